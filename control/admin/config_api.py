"""The runtime configuration over HTTP: `GET /api/config` and `PUT /api/config` (no restart needed).

Every setting is checked by facegate.settings; a body the OpenAPI schema refuses is explained in
that check's words. Passwords in stream URLs are masked in answers and kept when sent back masked.
"""

from __future__ import annotations

from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.masking import keep_config_passwords
from control.openapi import BOOLEAN, CONFIG_BODY, STRING, error_answers, json_answer, json_request, obj
from control.service_api import ServiceApi
from control.validation import fail, json_body
from facegate.settings import ALIASES, validate

CONFIG = {"type": "object"}


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    """The body's settings under their own names (an alias becomes `model`)."""
    return {ALIASES.get(k, k): v for k, v in body.items()}


def _explain(body: dict[str, Any]) -> Any:
    return validate(_settings(body), runtime_only=True)


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the configuration routes to the API app."""

    @app.get(
        "/api/config",
        scope=Scope.READ,
        doc=Doc("getConfig", "The runtime configuration", {"200": json_answer(obj({"config": CONFIG}, ["config"]))}),
    )
    def get_config() -> dict[str, Any]:
        return {"config": service.config().as_dict()}

    @app.put(
        "/api/config",
        scope=Scope.ADMIN,
        action="config.update",
        explain=_explain,
        doc=Doc(
            "updateConfig",
            "Change stream_url, threshold, ... without a restart",
            {
                "200": json_answer(
                    obj({"success": BOOLEAN, "message": STRING, "config": CONFIG}, ["success", "config"])
                ),
                **error_answers(400, 401, 409, 413),
            },
            body=json_request(CONFIG_BODY),
        ),
    )
    def put_config() -> dict[str, Any]:
        body = keep_config_passwords(service, _settings(json_body()))
        if not body:
            raise fail(400, 'send at least one setting, e.g. {"threshold": 0.5}')
        camera_ids = [c.get("id") for c in body.get("cameras") or [] if isinstance(c, dict)]
        if len(set(camera_ids)) != len(camera_ids):
            raise fail(409, "two cameras have the same id")
        config = service.update_config(body)  # SettingError: 400
        return {"success": True, "message": f"updated {', '.join(sorted(body))}", "config": config.as_dict()}
