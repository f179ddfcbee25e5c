"""`python supervisor.py` as a real process on 127.0.0.1 and a free port, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from control.facework import JOB_TIMEOUT_S
from tests.support import leaks, testdata
from tests.support.webhook_receiver import free_port

REPO = Path(__file__).resolve().parents[2]
# The admin token every service of the tests runs with unless the test names its own: the service is
# closed by default, and a test not about access should not depend on a token file.
# A request's guard against a hang, not a latency target: longer than the photo pool's own limit, so a photo job
# that the niced pool runs slowly on a busy machine is answered by the service (with its result, or a 503).
REQUEST_TIMEOUT_S = JOB_TIMEOUT_S + 30.0
TEST_TOKEN = "facegate-test-admin-token"


class ServiceProcess:
    """Start, stop, kill and talk to one supervisor; its log goes to `data_dir/service.log`.

    It runs with `token` as its FACEGATE_API_TOKEN (TEST_TOKEN unless given) and sends it on every
    request; `token=None` starts it as a user would, with no token set, and then talks with the
    token it made in its data dir (`admin_token`), if it made one."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        token: str | None = TEST_TOKEN,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.data_dir, self.args, self.token = Path(data_dir), list(args), token
        self.port = port or free_port()
        # the test data (photos, the clip) is the media dir: the API adds file cameras only from there
        self.env = {
            **os.environ,
            "PYTHONWARNINGS": "ignore",
            "FACEGATE_WEBHOOKS": "off",
            "FACEGATE_MEDIA_DIR": str(testdata.data_dir()),
            **(env or {}),
        }
        if token:
            self.env["FACEGATE_API_TOKEN"] = token
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "service.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def serving(self, timeout: float = 120.0) -> Iterator[ServiceProcess]:
        """Started for the `with` block, then stopped; it must exit cleanly (code 0)."""
        self.start(timeout=timeout)
        try:
            yield self
        finally:
            assert self.stop(timeout=60) == 0, self.log()[-3000:]

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "supervisor.py",
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *self.args,
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        leaks.record(self.proc.pid)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"supervisor exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if requests.get(self.url + "/api/health", timeout=2).status_code in (200, 503):  # listening
                    return self._with_made_token()
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"supervisor did not answer within {timeout:.0f} s:\n{self.log()[-3000:]}")

    def _with_made_token(self) -> ServiceProcess:
        made = self.data_dir / "admin_token"
        if self.token is None and made.exists():
            self.token = made.read_text().strip()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def headers(self, token: str | None = None) -> dict[str, str]:
        chosen = self.token if token is None else token
        return {"Authorization": f"Bearer {chosen}"} if chosen else {}

    def request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**self.headers(token), **kwargs.pop("headers", {})}
        return requests.request(
            method, self.url + path, headers=headers, timeout=kwargs.pop("timeout", REQUEST_TIMEOUT_S), **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def wait_for(self, predicate: Any, timeout: float, interval: float = 0.25) -> Any:
        """Poll `predicate()` until it returns something truthy (returned) or time runs out (None)."""
        return poll_until(predicate, timeout, interval)

    def gallery_in_use(self) -> int:
        """The gallery version this node's match stage names faces with (`/api/stats`)."""
        return int(self.get("/api/stats").json()["pipeline"]["stages"]["match"]["gallery_version"])

    def gallery_newer_than(self, version: int, timeout: float = 60.0) -> float:
        """Wait until match names faces with a gallery newer than `version`; the wall-clock time that was seen
        (every frame captured from then on is named with it)."""
        assert poll_until(lambda: self.gallery_in_use() > version, timeout), (
            f"match still on gallery version {version} after {timeout:.0f} s:\n{self.log()[-3000:]}"
        )
        return time.time()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `sig` and wait for the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # its stacks, in its log (entry/serve.py)
            time.sleep(1.0)
            self.proc.kill()
            self.proc.wait(10)
            told = signal.Signals(sig).name
            raise AssertionError(f"still running {timeout:.0f} s after {told}:\n{self.log()[-6000:]}") from None

    def kill(self) -> None:
        """SIGKILL the supervisor itself (its stages notice and exit on their own)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def poll_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """What `predicate()` first returns that is truthy, polled for at most `timeout` seconds; else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(interval)
    return None


def cmdline(pid: int) -> str | None:
    """A process's command line (its title, for a stage), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def children(parent: int) -> dict[int, str]:
    """Children of `parent` and their children: pid → command line (stage processes are titled
    `facegate: <stage>` and are children of the supervisor's `facegate: forkserver`)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found = {}
    for pid, ppid in parents.items():
        title = cmdline(pid) if parent in (ppid, parents.get(ppid)) else None
        if title is not None:
            found[pid] = title
    return found
