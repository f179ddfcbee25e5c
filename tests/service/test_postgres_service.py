"""The running service with its store in PostgreSQL, end to end.

A real `supervisor.py --database-url postgresql://...` against the test session's PostgreSQL
server: Lin-Manuel Miranda is registered from his photo over the API, the clip plays as a
camera, and Lin comes back from /api/results and as a webhook to a receiver on loopback. The
data dir is left without a SQLite file: every table lives in PostgreSQL.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from facegate.store import DB_NAME, Store
from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import cli
from tests.support.webhook_receiver import WebhookReceiver

LIN = "Lin-Manuel Miranda"
pytestmark = pytest.mark.slow


def test_the_service_recognizes_and_delivers_with_postgresql(
    pg_url: str, faces: Path, clip: Path, tmp_path: Path
) -> None:
    receiver = WebhookReceiver().start()
    data_dir = tmp_path / "node"
    service = ServiceProcess(
        data_dir, "--database-url", pg_url, env={"FACEGATE_WEBHOOKS": "on", "NEXTJS_WEBHOOK_URL": receiver.url}
    )
    try:
        service.start(timeout=120)
        photo = (faces / "lin-manuel-miranda.png").read_bytes()
        registered = service.post("/api/register", data={"name": LIN}, files={"image": ("lin.png", photo, "image/png")})
        assert registered.status_code == 200, registered.text
        assert registered.json()["total_users"] == 1
        assert service.put("/api/config", json={"stream_url": str(clip)}).status_code == 200
        assert service.post("/api/start").json()["running"] is True

        def lin_result() -> dict | None:
            found = service.get(f"/api/results/{LIN}").json()["results"]
            return found[0] if found else None

        result = service.wait_for(lin_result, 120.0)
        assert result, service.log()[-4000:]
        assert result["name"] == LIN and result["camera_id"] == "cam0"
        assert result["confidence"] == round(1 - result["distance"], 2) and result["distance"] <= 0.6
        box = result["box"]
        assert 0 <= box["left"] < box["right"] <= 640 and 0 <= box["top"] < box["bottom"] <= 360

        def lin_hook() -> list:
            return [d for d in receiver.accepted() if d.payload["result"]["name"] == LIN]

        hooks = receiver.wait_for(lin_hook, 60.0) and lin_hook()
        assert hooks, service.log()[-4000:]
        assert hooks[0].payload["camera_id"] == "cam0" and hooks[0].payload["camera_stream_url"] == str(clip)
        assert hooks[0].headers["webhook-id"].startswith("evt_")
        assert service.get("/api/status").json()["registered_people"] == 1
        shown = service.get("/api/config").json()["config"]["database_url"]
        assert shown == pg_url.replace("postgresql://", "postgresql+psycopg://")  # this node's, not a shared one
        assert service.stop(signal.SIGTERM, timeout=60) == 0, service.log()[-3000:]
    finally:
        if service.proc is not None and service.proc.poll() is None:
            service.kill()
        receiver.stop()

    assert not (data_dir / DB_NAME).exists()
    assert "store: PostgreSQL postgresql+psycopg://postgres@127.0.0.1" in service.log()
    store = Store(tmp_path / "reader", database_url=pg_url)
    try:
        assert [p["name"] for p in store.gallery.people()] == [LIN]
        assert store.results.counts_by_name()[LIN] >= 1
        for event_id in {d.headers["webhook-id"] for d in receiver.accepted()}:
            assert store.outbox.get(event_id) is not None, event_id  # the outbox is in PostgreSQL too
        assert store.outbox.get(hooks[0].headers["webhook-id"])["status"] == "delivered"
        assert "database_url" not in store.config.read()  # a URL (and its password) is never shared through the store
    finally:
        store.close()


def test_register_from_the_command_line_into_postgresql(pg_url: str, faces: Path, tmp_path: Path) -> None:
    done = cli(
        "--data-dir", str(tmp_path), "--database-url", pg_url, "register", LIN, str(faces / "lin-manuel-miranda.png")
    )
    assert done.returncode == 0, done.stderr
    assert "registered 'Lin-Manuel Miranda' (person 1) from 1 photo(s); 1 people known" in done.stdout
    assert not (tmp_path / DB_NAME).exists()
    store = Store(tmp_path / "reader", database_url=pg_url)
    try:
        assert [(p["name"], p["encodings"]) for p in store.gallery.people()] == [(LIN, 1)]
    finally:
        store.close()


def test_a_database_url_that_cannot_work_is_one_line_on_stderr(tmp_path: Path) -> None:
    done = cli(
        "--data-dir", str(tmp_path), "register", "Nobody", "x.png", env={"FACEGATE_DATABASE_URL": "mysql://u@h/db"}
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: database URL scheme 'mysql' is not supported (use postgresql:// or leave it unset)"
    )
