"""The setting the visitor, reject and search tests share: Barack Obama registered, strangers replayed in.

Obama is registered from obama.jpg through `supervisor.py register`; a running service serves the
data dir; clips (tests/support/clips.py) are replayed into the same data dir with `supervisor.py replay`,
as a user would, and what they added is read back over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import cli

OBAMA = "Barack Obama"


@contextmanager
def service_knowing_obama(
    faces: Path, data_dir: Path, before_start: Callable[[Path], None] | None = None
) -> Iterator[ServiceProcess]:
    """A running service whose data dir knows Barack Obama; `before_start(data_dir)` runs before it starts."""
    done = cli("--data-dir", str(data_dir), "register", OBAMA, str(faces / "obama.jpg"))
    assert done.returncode == 0, done.stderr
    if before_start is not None:
        before_start(data_dir)
    service = ServiceProcess(data_dir)
    service.start()
    try:
        yield service
    finally:
        assert service.stop() == 0, service.log()[-3000:]


def replay_into(data_dir: Path, clip: Path, *, camera: str = "cam0", env: dict[str, str] | None = None) -> None:
    done = cli("--data-dir", str(data_dir), "--camera-id", camera, "replay", str(clip), "--no-progress", env=env)
    assert done.returncode == 0, done.stderr[-3000:]


def replay_results(
    api: ServiceProcess, clip: Path, *, camera: str = "cam0", env: dict[str, str] | None = None
) -> list[dict]:
    """Replay `clip` as camera `camera` into the service's data dir; the results it added, oldest first."""
    before = {r["event_id"] for r in api.get("/api/results?limit=1000").json()["results"]}
    replay_into(api.data_dir, clip, camera=camera, env=env)
    added = [r for r in api.get("/api/results?limit=1000").json()["results"] if r["event_id"] not in before]
    return added[::-1]
