"""The Bottle app: the plugins every route passes through, then the routes of each area of the API.

The v1 API's endpoints keep their JSON; people, recognize, cameras, results and the rest sit beside
them. Each route declares its scope, audit action and documentation itself (control/declaration.py);
the plugins read them, and building the app fails on a route that leaves one out. Every error is
JSON (`{"error": ...}`) with a 4xx status that says what was wrong (control/errors.py); an
unexpected exception is logged with its traceback and answered with a plain 500.
"""

from __future__ import annotations

from collections.abc import Iterable

import bottle

from control import admin, auth, cameras, facework, hosts, openapi, operator_page, people, results, security
from control.audit_plugin import AuditPlugin
from control.declaration import check_declared
from control.errors import ErrorPlugin, install_error_handler
from control.facework import FaceWorkConfig
from control.masking import RedactPlugin
from control.request_schema import RequestSchemaPlugin
from control.service_api import ServiceApi
from control.validation import MAX_BODY_BYTES
from facegate.audit import AuditTrail
from facegate.settings import Settings, from_environment

URL_SIGNING_KEY = "url_signing_key"  # meta row: the cluster's key for signed picture URLs


def make_app(
    service: ServiceApi,
    *,
    token: str | None = None,
    read_token: str | None = None,
    cors_origins: str | None = None,
    host: str | None = None,
    settings: Settings | None = None,
    allowed_hosts: Iterable[str] | None = None,
) -> bottle.Bottle:
    """The whole API over one running service; tokens default to FACEGATE_API_TOKEN / FACEGATE_READ_TOKEN
    (none at all: open), the start-time settings (the face pool's) to the defaults and FACEGATE_* variables,
    the Host names it answers to to control/hosts.py's defaults for the bind address `host`."""
    app = bottle.Bottle(catchall=True)
    bottle.BaseRequest.MEMFILE_MAX = MAX_BODY_BYTES
    app.install(ErrorPlugin())  # outermost: what the plugins below raise is answered too
    install_error_handler(app)
    security.install(
        app,
        cors_origins=cors_origins,
        allowed_hosts=hosts.default_hosts(host) if allowed_hosts is None else allowed_hosts,
    )
    store = service.store
    shared_key = bytes.fromhex(store.core.shared_secret(URL_SIGNING_KEY)) if store.backend == "postgresql" else None
    auth.install(app, auth.AuthConfig.from_env().with_tokens(token, read_token), host, shared_key)
    schema = RequestSchemaPlugin()
    app.install(schema)  # after auth: a caller without a token hears 401, not a schema's 400
    trail = AuditTrail(store.engine, lambda: service.config().audit_retention_days)
    app.install(AuditPlugin(trail, store.core))
    app.install(RedactPlugin())
    started = settings or Settings.of(from_environment())  # the start-time settings
    pool = facework.install(app, FaceWorkConfig.of(started))

    admin.install(app, service, trail, webhook_private_ok=started.webhook_private_ok)
    people.install(app, service, pool, schema)
    cameras.install(app, service, started.mjpeg_max_s)
    results.install(app, service, pool)
    operator_page.install(app)
    openapi.install(app, service.version)
    check_declared(app)  # a route without its scope, action or doc fails here
    for route in app.routes:
        route.prepare()  # applies the plugins now, not at the first request
    return app
