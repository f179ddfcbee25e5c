"""Each route is declared once, on itself: its scope, audit action and documentation; and domain errors
become their 4xx through one plugin. Built offline (no pipeline), served over real HTTP where it answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bottle
import pytest
import requests

from control import openapi
from control.app import make_app
from control.declaration import Doc, Scope, Undeclared, action_of, doc_of, scope_of
from control.errors import ErrorPlugin, install_error_handler
from control.facework import PoolFull, PoolUnavailable
from control.server import ApiServer
from control.service_api import Conflict, ServiceError
from facegate.faces import FaceImageError
from facegate.settings import SettingError, config_schema
from facegate.store import NameInUse, Store


class _Offline:
    """Just enough of a service to build the app."""

    version, started_at, running, node_id = "test", 0.0, False, "offline"

    def __init__(self, data_dir: Path) -> None:
        self.store = Store(data_dir)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bottle.Bottle]:
    built = make_app(_Offline(tmp_path_factory.mktemp("routes")), token="", read_token="", cors_origins="")
    yield built
    built.close()


def test_every_route_declares_its_scope_operation_id_and_audit_action(app: bottle.Bottle) -> None:
    routes = [r for r in app.routes if r.method != "OPTIONS"]
    assert len(routes) > 40
    ids = [doc_of(r).operation_id for r in routes]
    assert all(ids) and len(set(ids)) == len(ids), "operation ids must be unique"
    for route in routes:
        assert isinstance(scope_of(route), Scope), route.rule
        assert doc_of(route).summary and doc_of(route).responses, route.rule
        action = action_of(route)  # raises for a changing route that declares neither an action nor None
        assert action is None or action.count(".") == 1, (route.method, route.rule, action)
    assert (
        action_of(next(r for r in routes if r.rule == "/api/persons/<person_id>" and r.method == "DELETE"))
        == "person.delete"
    )


def test_the_served_config_body_is_the_declared_one(app: bottle.Bottle) -> None:
    """PUT /api/config's documented body is the one facegate.settings derives from the declarations."""
    served = openapi.document(app)["paths"]["/api/config"]["put"]["requestBody"]["content"]["application/json"]
    assert served["schema"] == config_schema()


def test_the_documented_routes_are_the_served_routes(app: bottle.Bottle) -> None:
    document = openapi.document(app, "test")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == openapi.served_operations(app)
    assert document["paths"]["/api/status"]["get"]["operationId"] == "getStatus"
    assert document["paths"]["/api/audit"]["get"]["x-facegate-scope"] == "admin"


def test_a_route_without_a_doc_cannot_be_documented() -> None:
    bare = bottle.Bottle()
    bare.route("/api/undocumented", "GET", lambda: {}, scope=Scope.READ)
    with pytest.raises(Undeclared, match="GET /api/undocumented declares no doc"):
        openapi.document(bare)


# --- the error plugin ------------------------------------------------------------------------------------------
RAISED: dict[str, Exception] = {
    "setting": SettingError("threshold must be in (0, 1]"),
    "photo": FaceImageError("not an image"),
    "state": ServiceError("no stream_url is configured"),
    "conflict": Conflict("camera 'door' exists already"),
    "name": NameInUse("the name Ann is taken"),
    "full": PoolFull(7),
    "broken": PoolUnavailable("a face-detection process died"),
    "bug": KeyError("model"),
}


@pytest.fixture(scope="module")
def erring() -> Iterator[str]:
    """An app whose routes raise each domain error (and one bug), served on 127.0.0.1."""
    served = bottle.Bottle(catchall=True)
    served.install(ErrorPlugin())
    install_error_handler(served)
    for name, error in RAISED.items():

        def raiser(error: Exception = error) -> None:
            raise error

        served.route(f"/{name}", "GET", raiser)
    server = ApiServer(served, "127.0.0.1", 0, threads=2)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("setting", 400),
        ("photo", 400),
        ("state", 400),
        ("conflict", 409),
        ("name", 409),
        ("full", 429),
        ("broken", 503),
        ("bug", 500),
    ],
)
def test_domain_errors_are_answered_with_their_status(erring: str, name: str, status: int) -> None:
    answer = requests.get(f"{erring}/{name}", timeout=10)
    assert answer.status_code == status
    message = answer.json()["error"]
    if status >= 500:  # a 5xx says nothing of the cause (a bug's name, a worker's fate): the log has it
        assert message == "internal error; the server log has the details" and "model" not in answer.text
    else:
        assert message == str(RAISED[name])


def test_a_full_pool_says_when_to_come_back(erring: str) -> None:
    assert requests.get(f"{erring}/full", timeout=10).headers["Retry-After"] == "7"
    assert requests.get(f"{erring}/broken", timeout=10).headers["Retry-After"] == "1"


def test_doc_keeps_its_responses_whole() -> None:
    """Bottle flattens a dict given as a route keyword; a Doc arrives as it was written."""
    app = bottle.Bottle()
    doc = Doc("ping", "Ping", {"200": {"description": "OK"}})
    app.route("/ping", "GET", lambda: {}, scope=Scope.PUBLIC, doc=doc)
    assert doc_of(app.routes[0]) is doc
