"""Flood: does a burst of heavy API requests starve live recognition? (issue 16)

`python -m bench.flood` (or `python -m bench --only flood`) starts `supervisor.py` with an admin
token and the clip as a live camera (a file in live mode plays at 30 fps and loops), warms it up,
then measures the frames per second through match for a quiet window, and again while 50 clients
at once keep POSTing the 1080p photo to `/api/recognize` (impatient clients: after a 429 each
waits the Retry-After, but at most a second). All the while `GET /api/status` is timed every
quarter second. The clients run in a process of their own at a lower priority, standing in for
clients on other machines: their own CPU (50 threads uploading) is not what is measured.
Targets: live recognition keeps >= 90% of its quiet frame rate, and status answers within 1 s.
It also counts the answers (200, 429 with Retry-After, anything else).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.fixtures import CLIP, REPO, faces_dir, register_people, supervisor_env
from bench.soak import _children

RESULTS = REPO / "bench" / "results"
PHOTO = "obama-1080p.jpg"
CLIENTS = 50
WARM_UP_S = 15.0
WINDOW_S = 20.0
STATUS_EVERY_S = 0.25
FPS_TARGET = 0.9
STATUS_TARGET_S = 1.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """The supervisor under test, on 127.0.0.1 with an admin token."""

    def __init__(self, data_dir: Path, clip: Path) -> None:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self._log = (data_dir / "supervisor.log").open("w")
        env = {**supervisor_env(), "FACEGATE_API_TOKEN": self.token}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "supervisor.py",
                "--data-dir",
                str(data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--stream-url",
                str(clip),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"supervisor exited with {self.proc.returncode}")
            try:
                if self.match_frames() > 0:
                    return
            except (requests.RequestException, KeyError, ValueError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"no frame reached match within {timeout:.0f} s")

    def match_frames(self) -> int:
        stats = requests.get(self.url + "/api/stats", headers=self.headers, timeout=10).json()
        return int(stats["pipeline"]["stages"]["match"]["frames_out"])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def _cpu_by_process(root: int) -> dict[str, float]:
    """CPU seconds used so far by the supervisor and each process under it, by title (detect-1, api-faces, ...)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: Counter = Counter()
    for pid in _children(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        found[title.removeprefix("facegate: ")] += (int(stat[11]) + int(stat[12])) / tick
    return dict(found)


def _fps_over(service: Service, seconds: float) -> tuple[float, dict[str, float]]:
    """Frames through match per second over `seconds`, and the CPU seconds per second each process used."""
    start_frames, started, cpu = service.match_frames(), time.monotonic(), _cpu_by_process(service.proc.pid)
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    used = {
        name: round((spent - cpu.get(name, 0.0)) / elapsed, 2)
        for name, spent in _cpu_by_process(service.proc.pid).items()
    }
    return (service.match_frames() - start_frames) / elapsed, used


def _time_status(service: Service, stop: threading.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        began = time.monotonic()
        try:
            requests.get(service.url + "/api/status", headers=service.headers, timeout=30).raise_for_status()
            latencies.append(time.monotonic() - began)
        except requests.RequestException:
            latencies.append(float("inf"))
        stop.wait(STATUS_EVERY_S)


def _client(url: str, headers: dict[str, str], photo: bytes, until: float) -> tuple[Counter, set[int]]:
    """One client: POST the photo again and again until `until` (monotonic)."""
    answers: Counter = Counter()
    retry_after: set[int] = set()
    while time.monotonic() < until:
        try:
            answer = requests.post(
                url + "/api/recognize", headers=headers, timeout=300, files={"image": (PHOTO, photo, "image/jpeg")}
            )
        except requests.RequestException as exc:
            answers[type(exc).__name__] += 1
            continue
        answers[str(answer.status_code)] += 1
        if answer.status_code == 429:
            wait_s = int(answer.headers.get("Retry-After", "1"))
            retry_after.add(wait_s)
            time.sleep(min(1.0, max(wait_s, 0.1)))
    return answers, retry_after


def _clients(url: str, headers: dict[str, str], photo_path: str, seconds: float, out: Any) -> None:
    """In a process of its own, at a lower priority: CLIENTS clients for `seconds`; the answers go to `out`."""
    os.nice(10)
    photo = Path(photo_path).read_bytes()
    until = time.monotonic() + seconds
    answers: Counter = Counter()
    retry_after: set[int] = set()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        for counted, waits in pool.map(lambda _n: _client(url, headers, photo, until), range(CLIENTS)):
            answers.update(counted)
            retry_after |= waits
    out.put((dict(answers), sorted(retry_after)))


def measure(clip: Path, faces: Path) -> dict[str, Any]:
    """Quiet fps, flood fps, status latency and answer counts, as one dict."""
    photo = (faces / PHOTO).read_bytes()
    with tempfile.TemporaryDirectory(prefix="facegate-flood-") as tmp:
        data_dir = Path(tmp)
        register_people(data_dir, faces)
        service = Service(data_dir, clip)
        try:
            service.wait_ready()
            warm = requests.post(
                service.url + "/api/recognize",
                headers=service.headers,
                timeout=300,
                files={"image": (PHOTO, photo, "image/jpeg")},
            )  # starts the face pool
            warm.raise_for_status()
            time.sleep(WARM_UP_S)
            quiet_fps, quiet_cpu = _fps_over(service, WINDOW_S)
            quiet_status: list[float] = []
            stop_status = threading.Event()
            prober = threading.Thread(target=_time_status, args=(service, stop_status, quiet_status))
            prober.start()
            time.sleep(5.0)
            stop_status.set()
            prober.join()

            context = multiprocessing.get_context("spawn")
            out = context.Queue()
            clients = context.Process(
                target=_clients,
                args=(service.url, service.headers, str(faces / PHOTO), WINDOW_S + 5.0, out),
                name="flood-clients",
            )
            stop, latencies = threading.Event(), []
            prober = threading.Thread(target=_time_status, args=(service, stop, latencies))
            clients.start()
            prober.start()
            time.sleep(3.0)  # the clients are up and every one has sent its first photo
            flood_fps, flood_cpu = _fps_over(service, WINDOW_S)
            stop.set()
            prober.join()
            answers, retry_after = out.get(timeout=600)
            clients.join(60)
            after = requests.get(service.url + "/api/status", headers=service.headers, timeout=30).status_code
        finally:
            service.stop()
    finite = sorted(v for v in latencies if v != float("inf"))
    return {
        "clients": CLIENTS,
        "window_s": WINDOW_S,
        "photo": PHOTO,
        "quiet_fps": round(quiet_fps, 2),
        "flood_fps": round(flood_fps, 2),
        "fps_kept": round(flood_fps / quiet_fps, 3) if quiet_fps else 0.0,
        "status_ms": {
            "quiet_max": round(max(quiet_status, default=0) * 1000, 1),
            "p50": round(statistics.median(finite) * 1000, 1) if finite else None,
            "max": round(max(latencies) * 1000, 1) if latencies else None,
            "samples": len(latencies),
            "failed": len(latencies) - len(finite),
        },
        "answers": dict(answers),
        "retry_after_s": sorted(set(retry_after)),
        "status_after": after,
        "cpu_per_s": {"quiet": quiet_cpu, "flood": flood_cpu},
        "load_average": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }


def target_rows(flood: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for the bench table (same shape as bench/report.py's)."""
    status = flood["status_ms"]
    answers = ", ".join(f"{code}: {n}" for code, n in sorted(flood["answers"].items()))
    return [
        {
            "figure": f"live fps through match, quiet / during {flood['clients']} parallel /api/recognize (1080p)",
            "value": f"{flood['quiet_fps']:.1f} / {flood['flood_fps']:.1f} ({100 * flood['fps_kept']:.0f}%)",
            "target": f">= {100 * FPS_TARGET:.0f}%",
            "met": flood["fps_kept"] >= FPS_TARGET,
        },
        {
            "figure": "GET /api/status during the flood, p50 / max",
            "value": f"{status['p50']} / {status['max']} ms ({status['samples']} calls)",
            "target": f"max <= {STATUS_TARGET_S * 1000:.0f} ms",
            "met": status["max"] is not None and status["failed"] == 0 and status["max"] <= STATUS_TARGET_S * 1000,
        },
        {
            "figure": "flood answers (HTTP status: count)",
            "value": f"{answers}; Retry-After {flood['retry_after_s']} s",
            "target": "429s, no 5xx",
            "met": "429" in flood["answers"]
            and not any(code.startswith("5") or not code.isdigit() for code in flood["answers"]),
        },
    ]


def markdown(flood: dict[str, Any]) -> str:
    """The flood's rows as a markdown table."""
    lines = ["| figure | value | target | met |", "|---|---|---|---|"]
    lines += [
        f"| {r['figure']} | {r['value']} | {r['target']} | {'yes' if r['met'] else 'no'} |" for r in target_rows(flood)
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flood", description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, help=f"video for the live camera (default: the test data's {CLIP})")
    args = parser.parse_args(argv)
    faces = faces_dir()
    flood = measure((args.clip or faces / CLIP).resolve(), faces)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "flood.json").write_text(json.dumps(flood, indent=2) + "\n")
    print(markdown(flood), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
