"""Small unit tests of the pieces: settings, store, ring, hints, gallery, tracker."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from facegate.settings import SettingError, validate
from facegate.store import Store
from pipeline.recognition import known_faces as gallery_module
from pipeline.recognition.known_faces import UNKNOWN, Gallery
from pipeline.recognition.tracker import Attempt, CameraTracks, Recheck, Track
from pipeline.transport import shm
from pipeline.transport.frame_ring import FREE, FrameRing
from pipeline.transport.shm import run_prefix
from pipeline.transport.track_hints import iou


@pytest.mark.parametrize(
    "updates, message",
    [
        ({"threshold": 0}, "threshold must be in (0, 1]"),
        ({"threshold": 1.5}, "threshold must be in (0, 1]"),
        ({"threshold": "abc"}, "threshold must be a number"),
        ({"threshold": math.nan}, "finite"),
        ({"threshold": True}, "threshold must be a number"),
        ({"stream_url": "ftp://camera/x"}, "scheme 'ftp' is not supported"),
        ({"stream_url": ""}, "must not be empty"),
        ({"stream_url": ["x"]}, "must be a string"),
        ({"colour": 1}, "unknown setting 'colour'"),
        ({"workers": 2.5}, "whole number"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(updates: dict, message: str) -> None:
    with pytest.raises(SettingError, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        validate(updates)


def test_good_settings_are_cleaned() -> None:
    cleaned = validate({"threshold": "0.5", "stream_url": "rtsp://cam/1", "unknown_events": "off", "workers": 3.0})
    assert cleaned == {"threshold": 0.5, "stream_url": "rtsp://cam/1", "unknown_events": False, "workers": 3}
    assert validate({"stream_url": 0}) == {"stream_url": "0"}
    with pytest.raises(SettingError, match="only be changed at start"):
        validate({"workers": 2}, runtime_only=True)


def test_store_registers_deletes_and_counts(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a, b = np.random.rand(128), np.random.rand(128)
    first = store.gallery.register("Ada", [a], client_id="c1")
    assert store.gallery.register("Ada", [b]) == first  # the same person, a second photo
    second = store.gallery.register("Bob", [b])
    vectors, names = store.gallery.all_vectors()
    assert names == ["Ada", "Ada", "Bob"] and np.allclose(vectors[0], a)
    assert store.gallery.person(first)["encodings"] == 2 and store.gallery.person(first)["client_id"] == "c1"
    version = store.gallery.version()
    assert store.gallery.delete_person(first) and not store.gallery.delete_person(first)
    assert store.gallery.all_vectors()[1] == ["Bob"] and store.gallery.version() == version + 1
    assert [p["id"] for p in store.gallery.people()] == [second]
    with pytest.raises(ValueError):
        store.gallery.register("Bad", [np.full(128, np.nan)])
    with pytest.raises(ValueError):
        store.gallery.register("Bad", [np.zeros(127)])


def test_store_keeps_results_newest_first_and_the_outbox(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for i, name in enumerate(["Ada", "Bob", "Ada"]):
        result = {
            "timestamp": f"t{i}",
            "name": name,
            "confidence": 0.6,
            "distance": 0.4,
            "box": {"top": 1, "right": 2, "bottom": 3, "left": 0},
        }
        store.results.add(f"evt_{i}", result, "cam0", "file.mp4", '{"x": 1}', created=100.0 + i)
    assert [r["timestamp"] for r in store.results.recent(10)] == ["t2", "t1", "t0"]
    assert [r["timestamp"] for r in store.results.recent(10, "Ada")] == ["t2", "t0"]
    assert store.results.counts_by_name() == {"Ada": 2, "Bob": 1}
    assert store.results.latest()["event_id"] == "evt_2"
    assert [d["event_id"] for d in store.outbox.due(now=101.5)] == ["evt_0", "evt_1"]
    store.outbox.mark_delivered("evt_0", 1, 105.0)
    store.outbox.mark_failed("evt_1", 20, "HTTP 500")
    assert store.outbox.counts() == {"pending": 1, "retrying": 0, "delivered": 1, "failed": 1}
    assert store.outbox.retry_failed() == 1 and store.outbox.counts()["pending"] == 2
    assert store.retention.forget_before(101.5, 200.0).results == 2 and store.results.count() == 1


def test_store_survives_concurrent_writers(tmp_path: Path) -> None:
    stores = [Store(tmp_path) for _ in range(4)]  # four connections, as four processes would have
    errors = []

    def register(index: int) -> None:
        try:
            stores[index % 4].gallery.register(f"person {index}", [np.random.rand(128)])
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and stores[0].gallery.count_people() == 40


def test_ring_slots_are_shared_between_creator_and_attacher() -> None:
    ring = FrameRing.create(run_prefix() + "unit", 3, (4, 6, 3))
    try:
        other = FrameRing.attach(ring.name)
        slot = ring.claim_free()
        ring.frame(slot)[:] = 9
        ring.publish(slot, seq=7, pts=0.5, captured_at=1.0)
        assert other.holds(slot, 7) and not other.holds(slot, 8)
        assert int(other.frame(slot).sum()) == 9 * 4 * 6 * 3
        assert other.busy() == 1
        other.release(slot, 6)  # an older seq does not free a newer frame
        assert ring.header["state"][slot] != FREE
        other.release(slot, 7)
        assert ring.busy() == 0
        other.close()
    finally:
        ring.close()
        ring.unlink()
    assert not Path("/dev/shm", ring.name).exists()


def test_hints_skip_encoding_a_recent_track_and_claim_rechecks() -> None:
    ring = FrameRing.create(run_prefix() + "hints", 2, (4, 4, 3))
    try:
        box = (10, 110, 110, 10)
        assert ring.hints.should_encode(box, 0.0)  # nobody known there yet
        ring.hints.publish(0, 1, box, 1.0, 0.0, box, fresh=True)  # re-checked 1 s after its encoding
        assert not ring.hints.should_encode((12, 112, 112, 12), 0.5)
        assert ring.hints.should_encode((12, 112, 112, 12), 1.1)  # due: claimed
        assert not ring.hints.should_encode((12, 112, 112, 12), 1.2)  # another worker, same re-check
        ring.hints.publish(0, 1, box, 0.2, 0.0, box, fresh=True)  # still being decided: re-checked sooner
        assert ring.hints.should_encode(box, 0.3)
        assert ring.hints.should_encode((300, 400, 400, 300), 0.3)  # another face
    finally:
        ring.close()
        ring.unlink()


def test_gallery_matches_face_recognition_distances() -> None:
    rng = np.random.default_rng(1)
    known = rng.normal(0, 0.1, (50, 128))
    gallery = Gallery(known, [f"p{i}" for i in range(50)])
    query = known[17] + rng.normal(0, 0.01, 128)
    name, distance = gallery.identify(query, 0.6)
    assert name == "p17"
    assert distance == pytest.approx(np.linalg.norm(known[17] - query), abs=1e-4)
    assert gallery.identify(query + 5, 0.6)[0] == UNKNOWN
    assert Gallery(np.zeros((0, 128)), []).identify(query, 0.6) == (UNKNOWN, 1.0)  # JSON has no Infinity


def test_iou() -> None:
    assert iou((0, 10, 10, 0), (0, 10, 10, 0)) == 1.0
    assert iou((0, 10, 10, 0), (20, 30, 30, 20)) == 0.0
    assert iou((0, 10, 10, 0), (0, 15, 10, 5)) == pytest.approx(50 / 150)


def test_track_vote_keeps_a_name_through_one_bad_angle() -> None:
    track = Track(1, (0, 10, 10, 0), 0.0, 0.0, 0)
    track.attempts.extend([Attempt("Ada", 0.45, 10.0), Attempt(UNKNOWN, 0.65, 10.0)])
    track.vote(0.6)
    assert track.name == "Ada" and track.distance == 0.45
    track.attempts.extend([Attempt("Bob", 0.58, 5.0)])
    track.vote(0.6)
    assert track.name == "Ada"  # a closer, larger match outweighs a marginal one


def test_tracks_follow_overlapping_boxes_and_expire() -> None:
    camera = CameraTracks("cam0")
    first = camera.associate([(0, 100, 100, 0), (0, 400, 100, 300)], 0.0)
    again = camera.associate([(5, 405, 105, 305), (5, 105, 105, 5)], 0.1)
    assert [t.id for t in again] == [first[1].id, first[0].id]
    later = camera.associate([(5, 105, 105, 5)], 5.0)  # long gone: a new track
    assert later[0].id not in (first[0].id, first[1].id)


def test_large_gallery_two_stage_search_finds_the_exact_nearest() -> None:
    """Both paths of the two-stage search (few candidates; most rows) agree with brute force."""
    rng = np.random.default_rng(2)
    size = gallery_module.TWO_STAGE_FROM
    # Anisotropic like real encodings: a few axes carry most of the spread.
    known = rng.normal(0, 1, (size, 128)) * np.linspace(0.2, 0.02, 128) @ np.linalg.qr(rng.normal(size=(128, 128)))[0]
    names = [f"p{i}" for i in range(size)]
    known[size - 1] = known[3] + 1e-4  # two rows nearly tied
    gallery = Gallery(known, names)
    assert gallery.rotation is not None
    registered = known[rng.integers(0, size, 20)] + rng.normal(0, 0.005, (20, 128))
    strangers = rng.normal(0, 0.3, (5, 128))
    for query in [*registered, *strangers, known[3] + 4e-5]:
        distances = np.linalg.norm(known - query, axis=1)
        name, distance = gallery.nearest(query)
        assert name == names[int(np.argmin(distances))]
        assert distance == pytest.approx(distances.min(), abs=1e-6)


def test_a_starting_run_sweeps_the_segments_of_dead_runs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a folder of its own (the real /dev/shm is swept by every run on the machine at once): dead runs'
    segments go; this run's, a live facegate run's and other programs' stay."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True, timeout=60
    )
    dead = int(gone.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "facegate"])
    try:
        cmdline = Path(f"/proc/{live.pid}/cmdline")
        for _ in range(600):  # until the child has exec'd (before that it still has pytest's command line)
            if b"facegate" in cmdline.read_bytes():
                break
            time.sleep(0.01)
        names = [
            f"facegate-{dead}-cam0-1",
            f"facegate-{dead}-board",
            f"facegate-{os.getpid()}-cam0-1",
            f"facegate-{live.pid}-cam0-1",
            "someone-else",
            "facegate-notapid",
        ]
        for name in names:
            (tmp_path / name).write_bytes(b"x")
        monkeypatch.setattr(shm, "SHM_DIR", tmp_path)
        assert sorted(shm.remove_leftovers()) == sorted(names[:2])
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])
    finally:
        live.kill()
        live.wait(timeout=30)


def test_a_live_program_that_maps_its_segment_keeps_it_whatever_its_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline run inside another program (pytest-xdist titles its workers `[pytest-xdist running] <test>`)
    keeps its rings while it maps them: another run starting must not unlink them (it did, and that run's
    detect workers lost every frame of a camera they had not attached to yet). A live pid that maps nothing
    of its segments is a dead run's pid taken by another program: those go."""
    mapping = (  # waits (at most 30 s) for the segment named after its own pid, maps it, says so
        "import mmap, os, sys, time\n"
        "for _ in range(3000):\n    if os.path.exists(sys.argv[1]): break\n    time.sleep(0.01)\n"
        "f = open(sys.argv[1], 'r+b'); m = mmap.mmap(f.fileno(), 0); print('mapped', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", mapping, str(tmp_path / "placeholder")], stdout=subprocess.PIPE, text=True
    )
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        kept, taken = f"facegate-{holder.pid}-cam0-1", f"facegate-{stranger.pid}-cam0-1"
        for name in (kept, taken):
            (tmp_path / name).write_bytes(b"x" * 4096)
        (tmp_path / "placeholder").symlink_to(tmp_path / kept)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "mapped"
        assert b"facegate" not in Path(f"/proc/{holder.pid}/cmdline").read_bytes()
        monkeypatch.setattr(shm, "SHM_DIR", tmp_path)
        assert shm.remove_leftovers() == [taken]
        assert (tmp_path / kept).exists() and not (tmp_path / taken).exists()
    finally:
        for child in (holder, stranger):
            child.kill()
            child.wait(timeout=30)


def test_re_checks_back_off_while_they_agree_and_start_over_when_one_does_not() -> None:
    recheck = Recheck(named_s=2.0, unknown_s=0.2, max_s=5.0)
    track = Track(1, (10, 110, 110, 10), 0.0, 0.0, hint_row=0)
    intervals = []
    for _ in range(8):
        intervals.append(track.recheck_interval(recheck))
        track.attempts.append(Attempt(UNKNOWN, 0.8, 10.0))
        track.vote(0.6)
    assert intervals == [0.2, 0.2, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]  # decided Unknown after two, then backing off
    named = []
    for attempt in ("Lin-Manuel Miranda", "Lin-Manuel Miranda", "Lin-Manuel Miranda", UNKNOWN, "Lin-Manuel Miranda"):
        track.attempts.append(Attempt(attempt, 0.4 if attempt != UNKNOWN else 0.8, 10.0))
        track.vote(0.6)
        named.append((track.name, track.recheck_interval(recheck)))
    # named at once, then 2 s, doubling while the re-checks agree, up to 5 s; a miss starts it over
    assert [interval for _, interval in named] == [2.0, 4.0, 5.0, 2.0, 2.0]
    assert {name for name, _ in named} == {"Lin-Manuel Miranda"}
    assert Recheck(named_s=3.0, unknown_s=0.2, max_s=1.0).ceiling == 3.0  # the ceiling never undercuts recheck_s
