"""The seed's camera settings (`stream_url`, `camera_id`, `cameras`) read from and written to the camera rows.

Cameras are rows of the store (facegate/store/cameras.py), yet the runtime config still speaks of
them as the seed's clients do: `stream_url` is the default camera (the row whose id is the
`camera_id` setting), `cameras` the other rows, oldest first. `stored_settings` is the runtime
config as the API and the stages read it; `write_settings` applies checked settings (`PUT
/api/config`, the command line), the camera ones to the rows: `cameras` replaces the set (the
default camera aside) in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facegate.camera import Camera
from facegate.settings import as_json, defaults
from facegate.store import Store
from facegate.store.cameras import CameraExists, CameraRow


def camera_of(row: CameraRow) -> Camera:
    """A stored camera as the settings' `Camera`."""
    return Camera.from_dict(row.fields)


def default_camera_id(config: Mapping[str, Any]) -> str:
    """The id of the default camera, from the stored runtime config."""
    return str(config.get("camera_id") or defaults()["camera_id"])


def stored_settings(store: Store) -> dict[str, Any]:
    """The runtime config as stored, the cameras included (`stream_url`, `cameras`) from their rows."""
    config = store.config.read()
    default_id = default_camera_id(config)
    rows = store.cameras.all()
    default = next((r for r in rows if r.id == default_id), None)
    return {
        **config,
        "stream_url": default.fields["stream_url"] if default is not None else None,
        "cameras": [camera_of(r).to_dict() for r in rows if r is not default],
    }


def write_settings(store: Store, checked: Mapping[str, Any]) -> None:
    """Store checked settings (from `validate`): the camera ones as rows (a new `camera_id` takes the default
    camera's row along), the others in the runtime config."""
    cleaned = as_json(checked)
    config = {k: v for k, v in cleaned.items() if k not in ("stream_url", "cameras")}
    before = default_camera_id(store.config.read())
    default_id = str(cleaned.get("camera_id") or before)
    if default_id != before:
        store.cameras.rename(before, default_id)
    store.config.update(config)
    if "cameras" in cleaned:
        store.cameras.replace(list(cleaned["cameras"]), keep=[default_id])
    if "stream_url" in cleaned:
        _set_default_stream(store, default_id, cleaned["stream_url"])


def _set_default_stream(store: Store, camera_id: str, stream_url: str | None) -> None:
    if stream_url is None:
        store.cameras.delete(camera_id)
        return
    for _ in range(2):  # an update, or an add; a node adding it at the same moment makes the add an update
        if store.cameras.update(camera_id, lambda fields: {**fields, "stream_url": stream_url}) is not None:
            return
        try:
            store.cameras.add({"id": camera_id, "stream_url": stream_url})
            return
        except CameraExists:
            continue
