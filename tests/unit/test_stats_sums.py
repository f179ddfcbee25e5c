"""Stats rows as the supervisor reads them, and their sums per stage kind (for /api/stats and replay)."""

from __future__ import annotations

import os

from pipeline.runtime.stats import INDEX, LATENCY_BUCKETS_S, StageFigures, StageMeter, StatsBoard, by_kind


def figures(board: StatsBoard, row: int, name: str, kind: str, **supervisor: object) -> StageFigures:
    known = {"restarts": 0, "queue_hwm": 0, "queue_depth": 0, "alive": True, **supervisor}
    return StageFigures.of(board.row(row), name=name, kind=kind, **known)


def test_a_meter_writes_its_row_and_the_board_reads_it_back_typed() -> None:
    board = StatsBoard(4)
    meter = StageMeter(board, 2, os.getpid())
    meter.add("frames_in", 3)
    meter.add("faces", 5)
    for seconds in (0.01, 0.04, 0.3):
        meter.latency(seconds)
    row = board.row(2)
    assert (row.frames_in, row.faces, row.pid, row.lat_count) == (3.0, 5.0, float(os.getpid()), 3.0)
    assert row.latency_le == (1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0)
    assert len(row.latency_le) == len(LATENCY_BUCKETS_S)
    assert board.row(1).frames_in == 0.0


def test_rows_add_up_per_kind() -> None:
    board = StatsBoard(4)
    for row, (frames, faces, p50, p95) in enumerate(((100, 40, 10.0, 30.0), (80, 30, 20.0, 90.0), (180, 70, 0.1, 0.5))):
        values = board.table[row]
        for field, value in (
            ("frames_in", frames),
            ("frames_out", frames),
            ("faces", faces),
            ("ms_p50", p50),
            ("ms_p95", p95),
        ):
            values[INDEX[field]] = value
    rows = [
        figures(board, 0, "detect-1", "detect", restarts=1, queue_hwm=2),
        figures(board, 1, "detect-2", "detect", queue_hwm=1, queue_depth=1),
        figures(board, 2, "match", "match", queue_hwm=5),
    ]
    sums = by_kind(rows, elapsed=2.0)
    detect, match = sums["detect"], sums["match"]
    assert (detect["processes"], detect["frames_out"], detect["faces"], detect["restarts"]) == (2, 180, 70, 1)
    assert (detect["ms_p50"], detect["ms_p95"], detect["queue_hwm"], detect["queue_depth"]) == (15.0, 90.0, 2, 1)
    assert detect["fps"] == 90.0  # frames out over the elapsed time
    assert (match["frames_out"], match["queue_hwm"], match["latency_ms"]) == (180, 5, {"p50": 0.0, "p95": 0.0})
    assert "latency_ms" not in detect
