"""A live pipeline with N cameras playing one video, in this process: the set-up the capacity, profile and memory
benchmarks share (this process is the supervisor, so its own CPU is the hub's routing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def live_cameras(
    data_dir: Path, video: Path, cameras: int, settings: dict[str, Any], *, ready_s: float = 120.0
) -> Iterator[Any]:
    """The running pipeline (`Pipeline`) with cameras cam0..cam<N-1> each playing `video` as a live looping file;
    shut down (stages stopped, segments unlinked) on the way out."""
    from facegate.settings import Settings
    from pipeline.supervision.runner import Pipeline

    pipeline = Pipeline(
        str(data_dir), Settings.of(settings), follow_config=False, deliver_webhooks=False, log_level="WARNING"
    )
    try:
        pipeline.start()
        if not pipeline.wait_ready(ready_s):
            raise RuntimeError("the pipeline did not become ready")
        for index in range(cameras):
            pipeline.add_camera(f"cam{index}", str(video))
        yield pipeline
    finally:
        pipeline.shutdown()
