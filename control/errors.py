"""How a failure becomes an answer: domain errors map to their 4xx here, once, for every route.

A route lets a domain error rise (a setting out of bounds, a name taken, the photo pool full) and
`ErrorPlugin` answers it as JSON `{"error": message}` with the status of the nearest class in
`STATUS`. Anything else is a bug: logged with its traceback, answered with a plain 500, never the
traceback. `install_error_handler` makes Bottle's own errors (404 no route, 405) JSON too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import bottle

from control.facework import PoolFull, PoolUnavailable
from control.service_api import Conflict, ServiceError
from control.validation import fail
from facegate.faces import FaceImageError
from facegate.settings import SettingError
from facegate.store import NameInUse
from facegate.webhook_urls import EndpointError

log = logging.getLogger(__name__)

# domain error -> HTTP status; a subclass takes the status of its nearest listed class
STATUS: Mapping[type[Exception], int] = {
    SettingError: 400,  # a setting or camera out of bounds
    EndpointError: 400,  # a webhook endpoint's field
    FaceImageError: 400,  # not an image, too many pixels, not one face
    ServiceError: 400,  # the service cannot do that in its state (no camera configured)
    Conflict: 409,  # clashes with what exists (a camera id taken)
    NameInUse: 409,
    PoolFull: 429,  # with Retry-After
    PoolUnavailable: 503,
}


def status_of(error: Exception) -> int | None:
    """The status `error` is answered with, or None for an error no one expected (a 500)."""
    return next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), None)


def as_http(error: Exception) -> bottle.HTTPError | None:
    """`error` as the HTTP error the client gets (its headers too, e.g. Retry-After), or None."""
    status = status_of(error)
    if status is None:
        return None
    return bottle.HTTPError(status, str(error), **dict(getattr(error, "headers", {})))


class ErrorPlugin:
    """A Bottle plugin: domain errors become their 4xx, unexpected ones a logged JSON 500."""

    name = "facegate-errors"
    api = 2

    def apply(self, callback: Callable[..., Any], _route: bottle.Route) -> Callable[..., Any]:
        def answered(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except Exception as exc:
                mapped = as_http(exc)
                if mapped is not None:
                    raise mapped from None
                log.exception("%s %s failed", bottle.request.method, bottle.request.path)
                raise fail(500, "internal error") from None

        return answered


def install_error_handler(app: bottle.Bottle) -> None:
    """Every error `app` answers is JSON; a 500 says only that the log has the details."""

    def handler(error: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        message = error.body if isinstance(error.body, str) and error.body else error.status_line
        if error.status_code == 404 and message.startswith("Not found: "):
            message = f"no route {bottle.request.path}"
        if error.status_code >= 500:
            message = "internal error; the server log has the details"
        return json.dumps({"error": message})

    app.default_error_handler = handler
