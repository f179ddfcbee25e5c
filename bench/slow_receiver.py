"""What a slow webhook receiver costs the pipeline: the replay's fps against a prompt receiver and a slow one.

The tests show that every frame goes through while a receiver hangs (counted, not timed); the
speed is this figure. The clip is replayed (every frame detected, webhooks on) against a receiver
on 127.0.0.1 that answers at once, and against one that answers each request after 5 s while
facegate gives up on it after 2 s (`FACEGATE_WEBHOOK_TIMEOUT_S`), three runs each, alternated, each
run on a fresh copy of the registered data dir (so no run delivers another's outbox). Events come
once a second per person (`event_cooldown_s` 1), a dozen or so per run, so that a sender in the
frames' path would cost 2 s each, far more than the replay itself takes. The replay's own fps
counts frames only (not the webhooks draining after the last frame).

`python -m bench.slow_receiver [--runs 3]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.fixtures import CLIP, copy_data_dir, faces_dir, register_people
from bench.replayrun import run_replay
from tests.support.webhook_receiver import WebhookReceiver

SLOW_DELAY_S = 5.0  # the slow receiver answers each request after this
GIVE_UP_S = 2.0  # facegate's webhook timeout in these runs
COOLDOWN_S = 1.0  # events per person per second of stream at most: many events per run
RUNS = 3
KINDS = {"prompt": 0.0, "slow": SLOW_DELAY_S}


def measure(clip: Path, data_dir: Path, work: Path, runs: int = RUNS) -> dict[str, Any]:
    """The replays' fps and events per receiver kind (one per run), the ratio of the medians (slow / prompt),
    the fps a sender blocking the frames would give, and the bar: half of that blocking cost."""
    receiver = WebhookReceiver().start()
    env = {
        "FACEGATE_WEBHOOKS": "on",
        "NEXTJS_WEBHOOK_URL": receiver.url,
        "FACIAL_RECOGNITION_WEBHOOK_SECRET": "bench",
        "FACEGATE_WEBHOOK_TIMEOUT_S": f"{GIVE_UP_S:g}",
        "FACEGATE_EVENT_COOLDOWN_S": f"{COOLDOWN_S:g}",
    }
    fps: dict[str, list[float]] = {kind: [] for kind in KINDS}
    events: dict[str, list[int]] = {kind: [] for kind in KINDS}
    try:
        for run in range(1, runs + 1):
            for kind, delay in KINDS.items():  # alternated, so a change of load hits both kinds alike
                print(f"[slow_receiver] {kind} receiver, run {run} of {runs}", file=sys.stderr, flush=True)
                receiver.delay_s = delay
                fresh = copy_data_dir(data_dir, work / f"webhooks-{kind}-{run}")
                report = run_replay(clip, fresh, fresh / "trace.jsonl", env=env)
                fps[kind].append(report["fps"])
                events[kind].append(report["events"])
    finally:
        receiver.stop()
    prompt, slow = statistics.median(fps["prompt"]), statistics.median(fps["slow"])
    # A sender in the frames' path would add GIVE_UP_S per event to the prompt run's time; the bar is half that.
    frames, waits = report["frames"], statistics.median(events["slow"]) * GIVE_UP_S
    return {
        "fps": fps,
        "events": events,
        "ratio": round(slow / prompt, 3),
        "delay_s": SLOW_DELAY_S,
        "give_up_s": GIVE_UP_S,
        "blocking_fps": round(frames / (frames / prompt + waits), 1),
        "bar_fps": round(frames / (frames / prompt + waits / 2), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slow_receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        register_people(Path(tmp) / "data", faces_dir())
        print(json.dumps(measure(faces_dir() / CLIP, Path(tmp) / "data", Path(tmp), args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
