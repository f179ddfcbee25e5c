"""The default `max_cameras`: the fewer of what the cores carry and what the memory holds, as a container sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from facegate import sizing


def test_the_cpu_or_the_memory_whichever_carries_fewer() -> None:
    assert sizing.max_cameras("blazeface", 2, None) == 28  # 14 a core, as measured (README "Carrying more cameras")
    assert sizing.max_cameras("blazeface", 2, 1e6) == 28  # plenty of memory: the CPU decides
    assert sizing.max_cameras("hog", 2, None) == 16 and sizing.max_cameras("hog", 1.5, None) == 12  # on grey
    assert sizing.max_cameras(sizing.costed("hog", "colour"), 2, None) == 14  # as the old script looked: 7 a core
    assert sizing.costed("hog", "grey") == "hog" and sizing.costed("blazeface", "colour") == "blazeface"
    three_cameras = sizing.BASE_MB + 3.5 * sizing.CAMERA_MB
    assert sizing.max_cameras("blazeface", 64, three_cameras) == 3  # plenty of cores: the memory decides
    assert sizing.max_cameras("hog", 0.1, 100.0) == 1  # never less than one
    assert sizing.max_cameras("cnn", 1, None) == 7  # unmeasured: the fewest of the measured, HOG on colour's


def test_a_given_max_cameras_wins(caplog: pytest.LogCaptureFixture) -> None:
    assert sizing.node_max_cameras(3, "hog") == 3
    assert sizing.node_max_cameras(0, "hog") == 0
    assert "sized" not in caplog.text


def test_a_containers_cpu_quota_and_memory_limit_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # docker run --cpus 0.5: counted as one core at least
    (tmp_path / "memory.max").write_text(str(1024 * 2**20))
    (tmp_path / "memory.current").write_text(str(524 * 2**20))
    monkeypatch.setattr(sizing, "CGROUP", tmp_path)
    assert sizing.cores() == 1.0
    available = sizing.available_mb()
    assert available is not None and available == pytest.approx(500.0)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "memory.max").write_text("max\n")
    assert sizing.cores() >= 1.0 and (sizing.available_mb() or 0) > 500.0
