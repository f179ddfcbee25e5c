"""The operator page at `/`: static files shipped in control/static, served as they are (no build step).

The page is a plain client of the public API (it calls only `/api/...`, with the token the operator
enters), so this module only hands out files.
"""

from __future__ import annotations

from pathlib import Path

import bottle

from control.declaration import Doc, Scope
from control.openapi import STRING, error_answers
from control.validation import fail

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = frozenset({"app.js", "style.css"})
HTML = {"description": "The operator page", "content": {"text/html": {"schema": STRING}}}


def install(app: bottle.Bottle) -> None:
    """Add `GET /` (the page) and `GET /ui/<filename>` (its script and styles)."""

    # public: the static files hold no data; the page's API calls send the token
    @app.get(
        "/",
        scope=Scope.PUBLIC,
        doc=Doc("getOperatorPage", "The operator page (static HTML; it calls only this API)", {"200": HTML}),
    )
    def page() -> bottle.HTTPResponse:
        return _file("index.html")

    @app.get(
        "/ui/<filename>",
        scope=Scope.PUBLIC,
        doc=Doc(
            "getOperatorAsset",
            "Script and styles of the operator page",
            {"200": {"description": "A static file"}, **error_answers(404)},
            path_schemas={"filename": {"type": "string", "enum": sorted(ASSETS)}},
        ),
    )
    def asset(filename: str) -> bottle.HTTPResponse:
        if filename not in ASSETS:
            raise fail(404, f"no file {filename!r}")
        return _file(filename)


def _file(name: str) -> bottle.HTTPResponse:
    response = bottle.static_file(name, root=str(STATIC))
    response.set_header("Cache-Control", "no-cache")
    return response
