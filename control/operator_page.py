"""The operator page at `/`: static files shipped in control/static, served as they are (no build step).

The page is a plain client of the public API (it calls only `/api/...`, with the token the operator
enters), so this module only hands out files.
"""

from __future__ import annotations

from pathlib import Path

import bottle

from control.validation import fail

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = frozenset({"app.js", "style.css"})


def install(app: bottle.Bottle) -> None:
    """Add `GET /` (the page) and `GET /ui/<filename>` (its script and styles)."""

    @app.get("/")
    def page() -> bottle.HTTPResponse:
        return _file("index.html")

    @app.get("/ui/<filename>")
    def asset(filename: str) -> bottle.HTTPResponse:
        if filename not in ASSETS:
            raise fail(404, f"no file {filename!r}")
        return _file(filename)


def _file(name: str) -> bottle.HTTPResponse:
    response = bottle.static_file(name, root=str(STATIC))
    response.set_header("Cache-Control", "no-cache")
    return response
