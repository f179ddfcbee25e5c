"""bench.profile reads py-spy's raw samples: shares per stage kind, the project's code on the stack, no waits."""

from __future__ import annotations

from bench.profile import SAMPLE_RATE_HZ, Samples

DETECT = "<module> (<string>);run (pipeline/detect.py);Detector.process (pipeline/detect.py)"
RAW = f"""\
{DETECT};_convolve (facegate/encoder.py) 30
{DETECT};Interpreter.invoke (ai_edge_litert/interpreter.py) 10
run (pipeline/detect.py);receive (pipeline/runtime/stage_context.py);_PollLikeSelector.select (selectors.py) 60
Thread.run (threading.py);Queue._feed (multiprocessing/queues.py);Condition.wait (threading.py) 25
not a sample line
"""


def test_samples_add_up_per_kind_without_the_waits() -> None:
    found = Samples()
    found.add("detect", RAW)
    found.add("detect", f"{DETECT};shrink (pipeline/detect.py) 10\n")
    summary = found.summary(window_s=1.0, top=2)["detect"]
    assert summary["samples"] == 50  # 30 + 10 + 10: the 85 samples of waiting threads are not work
    assert summary["cores_sampled"] == round(50 / SAMPLE_RATE_HZ, 3)
    invoke = "Interpreter.invoke (ai_edge_litert/interpreter.py)"
    assert summary["leaf"] == [["_convolve (facegate/encoder.py)", 0.6], [invoke, 0.2]]
    assert summary["inclusive"] == [["Detector.process (pipeline/detect.py)", 1.0], ["run (pipeline/detect.py)", 1.0]]
