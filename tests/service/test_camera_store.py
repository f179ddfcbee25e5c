"""Camera rows in the store on both backends, and the migration that moved the config's camera list into them."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from facegate.camera_settings import camera_of, stored_settings, write_settings
from facegate.db import engine as dbengine
from facegate.db.migrate import alembic_config
from facegate.settings import validate
from facegate.store import DB_NAME, CameraExists, Store
from tests.service import test_store

location, store = test_store.location, test_store.store  # the fixtures: SQLite, and a fresh PostgreSQL database


def camera(camera_id: str, **fields: object) -> dict[str, object]:
    return {"id": camera_id, "stream_url": f"rtsp://127.0.0.1:9/{camera_id}", **fields}


def test_a_camera_is_a_row_added_updated_and_deleted_once(store: Store) -> None:
    version = store.config.version()
    added = store.cameras.add(camera("door", name="Door"), now=100.0)
    assert added.fields == {
        "id": "door",
        "name": "Door",
        "stream_url": "rtsp://127.0.0.1:9/door",
        "enabled": True,
        "detect_fps": None,
        "min_face_px": None,
        "ignore_regions": None,
    }
    with pytest.raises(CameraExists, match="'door'"):
        store.cameras.add(camera("door"))
    assert store.config.version() == version + 1  # the refused add wrote nothing
    store.cameras.add(camera("hall"), now=50.0)
    assert [r.id for r in store.cameras.all()] == ["hall", "door"]  # oldest first

    changed = store.cameras.update("door", lambda f: {**f, "detect_fps": 2.5}, now=200.0)
    assert changed is not None and changed.fields["name"] == "Door" and changed.fields["detect_fps"] == 2.5
    assert (changed.created_at, changed.updated_at) == (100.0, 200.0)
    assert store.cameras.get("door") == changed
    assert store.cameras.delete("door") is True and store.cameras.delete("door") is False
    assert store.cameras.update("door", lambda f: f) is None  # a deleted camera is not brought back
    assert store.cameras.get("door") is None and store.cameras.count() == 1


def test_a_cameras_regions_and_smallest_face_are_stored_and_read_back(store: Store) -> None:
    """min_face_px and ignore_regions (JSON) survive the row on both backends; a camera without them has none."""
    regions = [[[0.6, 0.1], [0.9, 0.1], [0.9, 0.5], [0.6, 0.5]], [[0, 0], [1, 0], [0.5, 1]]]
    store.cameras.add(camera("door", min_face_px=80, ignore_regions=regions))
    store.cameras.add(camera("hall"))
    door, hall = store.cameras.get("door"), store.cameras.get("hall")
    assert door is not None and hall is not None
    assert door.fields["min_face_px"] == 80 and door.fields["ignore_regions"] == regions
    square, triangle = ((0.6, 0.1), (0.9, 0.1), (0.9, 0.5), (0.6, 0.5)), ((0.0, 0.0), (1.0, 0.0), (0.5, 1.0))
    assert camera_of(door).ignore_regions == (square, triangle) and camera_of(door).min_face_px == 80
    assert camera_of(hall).ignore_regions == () and camera_of(hall).min_face_px is None
    assert "ignore_regions" not in camera_of(hall).to_dict()
    store.cameras.update("door", lambda f: {**f, "ignore_regions": None})
    cleared = store.cameras.get("door")
    assert cleared is not None and camera_of(cleared).ignore_regions == ()


def test_partial_updates_from_many_threads_all_land(store: Store) -> None:
    store.cameras.add(camera("door"))
    fields = [f"n{i}" for i in range(12)]

    def add_field(name: str) -> None:
        store.cameras.update("door", lambda f: {**f, "name": ",".join(filter(None, [f["name"], name]))})

    threads = [threading.Thread(target=add_field, args=(name,)) for name in fields]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    row = store.cameras.get("door")
    assert row is not None and sorted(row.fields["name"].split(",")) == sorted(fields)


def test_the_config_view_of_cameras_replaces_the_set_and_keeps_the_default_camera(store: Store) -> None:
    write_settings(store, validate({"stream_url": "rtsp://u:p@door/live", "threshold": 0.5}))
    write_settings(store, validate({"cameras": [camera("hall"), camera("yard", enabled=False, detect_fps=1.0)]}))
    seen = stored_settings(store)
    assert seen["stream_url"] == "rtsp://u:p@door/live" and seen["threshold"] == 0.5
    assert [c["id"] for c in seen["cameras"]] == ["hall", "yard"] and seen["cameras"][1]["detect_fps"] == 1.0
    assert "detect_fps" not in seen["cameras"][0]
    assert [r.id for r in store.cameras.all()] == ["cam0", "hall", "yard"]

    write_settings(store, validate({"cameras": [camera("yard"), camera("gate")]}))  # hall goes, gate is new
    assert [(r.id, r.enabled) for r in store.cameras.all()] == [("cam0", True), ("yard", True), ("gate", True)]
    write_settings(store, validate({"camera_id": "front"}))  # the default camera keeps its stream under its new id
    assert [r.id for r in store.cameras.all()] == ["front", "yard", "gate"]
    assert stored_settings(store)["stream_url"] == "rtsp://u:p@door/live"
    write_settings(store, validate({"stream_url": None}))
    assert stored_settings(store)["stream_url"] is None and store.cameras.count() == 2


OLD_LIST = [
    {"id": "hall", "stream_url": "rtsp://admin:secret@hall/live", "name": "Hall", "enabled": False, "detect_fps": 2.5},
    {"id": "yard", "stream_url": "/videos/yard.mp4", "name": None, "enabled": True},
]


def test_a_database_holding_the_old_camera_list_is_upgraded_with_every_camera(location: tuple[Path, str]) -> None:
    data_dir, url = location
    engine = dbengine.create_engine(dbengine.parse_url(url) if url else dbengine.sqlite_url(data_dir / DB_NAME))
    from alembic import command

    with engine.begin() as connection:  # the schema as the release before camera rows left it
        command.upgrade(alembic_config(connection), "0005")
        old = {"camera_id": "door", "stream_url": "rtsp://u:p@door/live", "cameras": OLD_LIST, "threshold": 0.5}
        connection.execute(
            sa.text("INSERT INTO config(key, value) VALUES (:k, :v)"),
            [{"k": k, "v": json.dumps(v)} for k, v in old.items()],
        )
    engine.dispose()

    store = Store(*location)
    try:
        rows = store.cameras.all()
        unset = {"min_face_px": None, "ignore_regions": None}  # the columns 0008 added
        assert [r.fields for r in rows] == [
            {"id": "door", "name": None, "stream_url": "rtsp://u:p@door/live", "enabled": True, "detect_fps": None}
            | unset,
            {**OLD_LIST[0]} | unset,
            {**OLD_LIST[1], "detect_fps": None} | unset,
        ]
        assert store.config.read() == {"camera_id": "door", "threshold": 0.5}  # the list left the config row
        assert stored_settings(store)["cameras"] == [OLD_LIST[0], OLD_LIST[1]]
        assert stored_settings(store)["stream_url"] == "rtsp://u:p@door/live"
    finally:
        store.close()
