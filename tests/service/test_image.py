"""The container image, built and run for real: `make image-test` (not part of `make test`: it builds an image).

No image registry is reachable here, so `make image` makes the debian:bookworm-slim base from
Debian's packages when it is missing (deploy/base-image.sh) and builds the Dockerfile with
`buildah bud --isolation=chroot`; the tests run it with `buildah run --isolation=chroot` on the
host network with a bind-mounted data dir, each command as `docker run facegate ARGS` would run
it: the image's ENTRYPOINT followed by ARGS, as the image's USER. Docker stops a container by
sending its STOPSIGNAL to the entrypoint's process; the tests do the same to the supervisor.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.memory import descendants
from tests.support import leaks
from tests.support.service_proc import REPO, poll_until
from tests.support.webhook_receiver import free_port

pytestmark = pytest.mark.image  # deselected from `make test` (setup.cfg); `make image-test` selects it

IMAGE = os.environ.get("IMAGE", "facegate")
USER_ID = 1000  # the image's user (Dockerfile); a bind-mounted data dir must be writable by it
MAX_IMAGE_MB = 700
DOCKER_STOP_GRACE_S = 10.0  # `docker stop`'s default before it kills
LIN, ALEX = "Lin-Manuel Miranda", "Alex Lacamoire"


def buildah(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stderr[-3000:])
    return done.stdout


@pytest.fixture(scope="module")
def image() -> dict[str, Any]:
    """`make image` (the base made first when missing), then the image's Docker configuration."""
    started = time.monotonic()
    done = subprocess.run(
        ["make", "-C", str(REPO), "image", f"IMAGE={IMAGE}"], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    print(f"make image: {time.monotonic() - started:.0f} s")
    return json.loads(buildah("inspect", "--type", "image", IMAGE))


class Container:
    """A working container of the image; each `run` is one `docker run facegate ARGS` with the data dir bound."""

    def __init__(self, config: dict[str, Any], data: Path, media: Path) -> None:
        self.entrypoint = config["Docker"]["config"]["Entrypoint"]
        self.healthcheck = config["Docker"]["config"]["Healthcheck"]["Test"]
        self.mounts = ["-v", f"{data}:/data", "-v", f"{media}:/media:ro"]
        self.name = buildah("from", "--pull=never", IMAGE).strip()
        # buildah run mounts the image's own VOLUME over a bind at the same path; Docker and Podman let the bind win
        buildah("config", "--volume", "/data-", self.name)

    def argv(self, args: list[str], env: dict[str, str]) -> list[str]:
        # the API may add file cameras from the media dir only: here, the read-only mount of the test data
        envs = [f"--env={k}={v}" for k, v in {"FACEGATE_MEDIA_DIR": "/media", **env}.items()]
        return ["buildah", "run", "--isolation=chroot", "--network=host", *self.mounts, *envs, self.name, "--", *args]

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv([*self.entrypoint, *args], env or {}), capture_output=True, text=True, timeout=timeout
        )

    def serve(self, port: int, log: Path) -> Served:
        env = {"FACEGATE_HOST": "127.0.0.1", "FACEGATE_PORT": str(port)}
        with log.open("ab") as out:
            proc = subprocess.Popen(self.argv(self.entrypoint, env), stdout=out, stderr=subprocess.STDOUT)
        return Served(self, proc, port, log)

    def remove(self) -> None:
        buildah("rm", self.name)


class Served:
    """The serving container: its supervisor, found as the entrypoint's process under `buildah run`."""

    def __init__(self, container: Container, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.container, self.proc, self.url, self.log = container, proc, f"http://127.0.0.1:{port}", log
        self.env = {"FACEGATE_HOST": "127.0.0.1", "FACEGATE_PORT": str(port)}
        self.pid = poll_until(lambda: _descendant(proc.pid, "facegate: supervisor"), 60, 0.2)
        assert self.pid, self.text()
        leaks.record(self.pid)

    def text(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def health(self) -> dict[str, Any] | None:
        try:
            return requests.get(self.url + "/api/health", timeout=5).json()
        except (requests.ConnectionError, ValueError):
            return None

    def wait_ok(self, timeout: float = 180) -> None:
        assert poll_until(lambda: (self.health() or {}).get("status") == "ok", timeout, 0.5), self.text()

    def stop(self) -> float:
        """SIGTERM to the supervisor as `docker stop` sends it; returns the seconds it took to exit."""
        started = time.monotonic()
        os.kill(self.pid, signal.SIGTERM)
        code = self.proc.wait(60)
        took = time.monotonic() - started
        assert code == 0, (code, self.text())
        return took

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        """A test that failed half-way leaves no container behind: SIGTERM, then SIGKILL after 30 s."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def _descendant(root: int, title: str) -> int | None:
    """The pid of a process under `root` whose command line starts with `title`."""
    for pid in descendants(root):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace").startswith(title):
                return pid
        except OSError:
            continue
    return None


def _owned_dir(path: Path, uid: int, mode: int = 0o755) -> Path:
    path.mkdir()
    os.chown(path, uid, uid)
    path.chmod(mode)
    return path


@pytest.fixture
def media(tmp_path: Path, faces: Path) -> Path:
    """What the container reads: two photos and the clip, mounted read-only at /media."""
    folder = tmp_path / "media"
    folder.mkdir()
    for name in ("lin-manuel-miranda.png", "alex-lacamoire.png", "short_hamilton_clip.mp4"):
        shutil.copy(faces / name, folder / name)
    return folder


@pytest.fixture
def container(image: dict[str, Any], tmp_path: Path, media: Path) -> Iterator[Container]:
    made = Container(image, _owned_dir(tmp_path / "data", USER_ID), media)
    try:
        yield made
    finally:
        made.remove()


# --- the tests ----------------------------------------------------------------------------------------------
def test_the_image_is_set_up_for_docker_run(image: dict[str, Any]) -> None:
    config = image["Docker"]["config"]
    assert config["Entrypoint"] == ["python", "supervisor.py"]
    assert config["User"] == "facegate" and config["WorkingDir"] == "/app"
    assert config["Healthcheck"]["Test"] == ["CMD", "python", "-m", "entry.healthcheck"]
    assert config["StopSignal"] == "SIGTERM"
    assert "5001/tcp" in config["ExposedPorts"] and "/data" in config["Volumes"]
    assert "FACEGATE_DATA_DIR=/data" in config["Env"]
    size = buildah("images", "--format", "{{.Size}}", IMAGE).strip()  # e.g. "612 MB"
    print(f"image {IMAGE}: {size}")
    value, unit = size.split()
    assert unit == "MB" and float(value) < MAX_IMAGE_MB, size


def test_register_replay_serve_stop_and_serve_again(container: Container, tmp_path: Path) -> None:
    data = tmp_path / "data"
    registered = container.run("register", LIN, "/media/lin-manuel-miranda.png")
    assert registered.returncode == 0 and f"registered {LIN!r}" in registered.stdout, registered.stderr[-3000:]
    assert (data / "facegate.db").stat().st_uid == USER_ID, "the store belongs to the image's user"

    replayed = container.run("replay", "/media/short_hamilton_clip.mp4", "--json")
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    report = json.loads(replayed.stdout)
    assert report["frames"] > 200 and report["lost"] == 0, report

    port, log = free_port(), tmp_path / "serve.log"
    with container.serve(port, log) as first:
        first.wait_ok()
        assert _uid(first.pid) == USER_ID, "the supervisor runs as the image's user, not root"
        check = subprocess.run(
            container.argv(container.healthcheck[1:], first.env), capture_output=True, text=True, timeout=60
        )
        assert check.returncode == 0 and check.stdout.strip().endswith(": ok"), (check.stdout, check.stderr)
        made = data / "admin_token"  # closed by default: the first start made the admin token, for its owner only
        assert made.stat().st_mode & 0o777 == 0o600 and made.stat().st_uid == USER_ID
        api = requests.Session()
        assert api.get(first.url + "/api/persons").status_code == 401
        api.headers["Authorization"] = f"Bearer {made.read_text().strip()}"
        assert [p["name"] for p in api.get(first.url + "/api/persons").json()["persons"]] == [LIN]
        named = api.get(f"{first.url}/api/results/{LIN}").json()["total"]
        assert named > 0, "the replay's events named Lin"
        with (tmp_path / "media" / "alex-lacamoire.png").open("rb") as photo:
            added = api.post(first.url + "/api/register", data={"name": ALEX}, files={"image": photo})
        assert added.status_code == 200, added.text
        assert api.put(first.url + "/api/config", json={"stream_url": "/media/short_hamilton_clip.mp4"}).ok
        assert api.post(first.url + "/api/start").ok
        live = poll_until(lambda: api.get(f"{first.url}/api/results/{LIN}").json()["total"] > named, 120, 0.5)
        assert live, ("the live camera named Lin", first.text())
        assert leaks.segments_of(first.pid), "a live camera has its ring in /dev/shm"
        took = first.stop()
        print(f"SIGTERM to exit with a live camera: {took:.1f} s")
        assert took < DOCKER_STOP_GRACE_S, f"stopping took {took:.1f} s: docker stop would have killed it"
        assert not leaks.segments_of(first.pid), "a /dev/shm segment was left behind"

    with container.serve(port, log) as second:
        second.wait_ok()
        assert sorted(p["name"] for p in api.get(second.url + "/api/persons").json()["persons"]) == [ALEX, LIN]
        assert api.get(f"{second.url}/api/results/{LIN}").json()["total"] > named
        status = api.get(second.url + "/api/status").json()
        assert status["running"] and status["stream_url"] == "/media/short_hamilton_clip.mp4", "recognition resumed"
        second.stop()
        assert not leaks.segments_of(second.pid)


def _uid(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:"))
    return int(line.split()[1])


def _error_lines(done: subprocess.CompletedProcess) -> list[str]:
    """What the container printed on stderr, without buildah's own closing lines about the exit status."""
    return [
        line
        for line in done.stderr.splitlines()
        if line.strip() and not line.startswith(("subprocess exited", "Error: exit status"))
    ]


def test_a_data_volume_it_cannot_write_ends_it_at_once(image: dict[str, Any], tmp_path: Path, media: Path) -> None:
    made = Container(image, _owned_dir(tmp_path / "data", 0), media)  # root's, 0755: not the image user's
    try:
        started = time.monotonic()
        done = made.run(timeout=120)
    finally:
        made.remove()
    assert done.returncode != 0 and _error_lines(done) == ["error: data dir /data is not writable"], done.stderr
    assert time.monotonic() - started < 60


def test_a_database_host_that_does_not_resolve_is_a_clear_error(container: Container) -> None:
    started = time.monotonic()
    done = container.run(
        env={"FACEGATE_DATABASE_URL": "postgresql://facegate:pw@db.nowhere.invalid/facegate"}, timeout=120
    )
    lines = _error_lines(done)
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "error: database postgresql+psycopg://facegate:***@db.nowhere.invalid/facegate "
        "cannot be used: failed to resolve host"
    ), lines
    assert time.monotonic() - started < 60, "it waited instead of failing"
