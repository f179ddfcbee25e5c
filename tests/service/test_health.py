"""The liveness route and the start-up refusals a deployer meets first, against real supervisor processes.

`GET /api/health` answers without a token when tokens are set, says only status, version and node,
turns 503 `degraded` while a stage is down and `ok` once it is back; the image's HEALTHCHECK
command (`python -m entry.healthcheck`) exits on it. A database host that does not resolve ends
`serve` at once with one line, not a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from facegate import sizing
from tests.support.service_proc import REPO, ServiceProcess, poll_until
from tests.support.supervisor_cli import cli
from tests.support.webhook_receiver import free_port

TOKEN = "health-admin-token-3c1d"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path_factory.mktemp("health"), "--workers", "1", token=TOKEN).start(timeout=120)
    try:
        yield service
    finally:
        assert service.stop(timeout=60) == 0, service.log()[-3000:]


def _health(svc: ServiceProcess) -> requests.Response:
    return requests.get(svc.url + "/api/health", timeout=10)


def _ok(svc: ServiceProcess, timeout: float = 60) -> requests.Response:
    """The first 200 answer (the stages are up): the supervisor answers before that, with 503 `starting`."""
    answer = poll_until(lambda: (r := _health(svc)).status_code == 200 and r, timeout, 0.2)
    assert answer, (_health(svc).text, svc.log()[-2000:])
    return answer


def test_health_is_anonymous_and_tells_nothing_but_status_version_and_node(svc: ServiceProcess) -> None:
    answer = _ok(svc)
    body = answer.json()
    assert set(body) == {"status", "version", "node"} and body["status"] == "ok", body
    status = svc.get("/api/status").json()
    assert (body["version"], body["node"]) == (status["version"], status["node"])
    assert answer.headers["Cache-Control"] == "no-store"
    assert svc.get("/api/stats", token="").status_code == 401, "the token is on: the rest stays closed"


def _healthcheck(port: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "FACEGATE_HOST": "0.0.0.0", "FACEGATE_PORT": str(port)}
    return subprocess.run(
        [sys.executable, "-m", "entry.healthcheck"], cwd=REPO, env=env, capture_output=True, text=True, timeout=30
    )


def test_the_image_healthcheck_command_follows_the_route(svc: ServiceProcess) -> None:
    done = _healthcheck(svc.port)
    assert done.returncode == 0 and done.stdout.strip().endswith(": ok"), (done.stdout, done.stderr)
    nobody = _healthcheck(free_port())
    assert nobody.returncode == 1 and "unhealthy" in nobody.stderr, (nobody.stdout, nobody.stderr)


def test_a_dead_stage_is_degraded_until_it_is_restarted(svc: ServiceProcess) -> None:
    _ok(svc)
    processes = svc.get("/api/stats").json()["pipeline"]["processes"]
    match = next(p for p in processes if p["kind"] == "match")
    os.kill(int(match["pid"]), signal.SIGKILL)
    degraded = poll_until(lambda: (r := _health(svc)).status_code == 503 and r.json(), 10, 0.05)
    assert degraded and degraded["status"] == "degraded", ("a dead stage was not reported", svc.log()[-2000:])
    assert _ok(svc).json()["status"] == "ok"


def test_a_database_host_that_does_not_resolve_ends_serve_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    done = cli(
        "--data-dir",
        str(tmp_path),
        "--port",
        "0",
        timeout=60,
        env={"FACEGATE_DATABASE_URL": "postgresql://facegate:pw@db.does-not-exist.invalid/facegate"},
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: database postgresql+psycopg://facegate:***@db.does-not-exist.invalid/facegate cannot be used: "
        "failed to resolve host 'db.does-not-exist.invalid'"
    ), done.stderr
    assert time.monotonic() - started < 30, "it waited instead of failing"


def test_a_node_started_without_max_cameras_takes_what_its_cores_and_memory_carry(svc: ServiceProcess) -> None:
    listed = poll_until(lambda: svc.get("/api/nodes").json()["nodes"], 30, 0.2)  # once the node's row is written
    assert listed and len(listed) == 1, listed
    node = listed[0]
    by_cpu = sizing.max_cameras("hog", sizing.cores(), None)
    memory = sizing.available_mb()
    assert memory is not None and (memory - sizing.BASE_MB) / sizing.CAMERA_MB > by_cpu, (
        "memory is not what limits here"
    )
    assert node["max_cameras"] == by_cpu == int(sizing.CAMERAS_PER_CORE["hog"] * sizing.cores())
    assert f"max_cameras {by_cpu}: sized for hog from {sizing.cores():g} cores" in svc.log()
