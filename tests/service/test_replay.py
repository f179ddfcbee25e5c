"""End to end: `supervisor.py replay` with the real models, processes, shared memory and SQLite."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.traces import read_trace
from tests.support import leaks
from tests.support.supervisor_cli import REPO, cli, copy_gallery
from tests.support.testdata import CLIP_FRAMES, CLIP_SIZE

LIN = "Lin-Manuel Miranda"


def plain_loop_face_counts(clip: Path, *, grey: bool, downscale: float = 0.5) -> list[int]:
    """Faces located per frame by a plain single-process loop with the same detector settings: HOG on the
    shrunk frame's grey (the pipeline's default) or, as the old script did, on its colours."""
    import face_recognition

    counts = []
    cap = cv2.VideoCapture(str(clip))
    for _ in range(CLIP_FRAMES + 5):
        ok, frame = cap.read()
        if not ok:
            break
        small = cv2.cvtColor(cv2.resize(frame, (0, 0), fx=downscale, fy=downscale), cv2.COLOR_BGR2RGB)
        counts.append(len(face_recognition.face_locations(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY) if grey else small)))
    cap.release()
    return counts


@pytest.fixture(scope="module")
def loop_counts(clip: Path) -> list[int]:
    """Faces per frame of the plain loop on the clip (HOG on grey, the default), computed once for the module."""
    return plain_loop_face_counts(clip, grey=True)


@pytest.fixture(scope="module")
def replayed(gallery_dir: Path, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = copy_gallery(gallery_dir, tmp_path_factory.mktemp("replay"))
    trace = data / "trace.jsonl"
    # --detect-fps 0: every frame is detected, as the plain loop does (test_detect_gating.py covers the default)
    done = cli("--data-dir", str(data), "replay", str(clip), "--json", "--trace", str(trace), "--detect-fps", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    return {
        "report": json.loads(done.stdout),
        "trace": read_trace(trace),
        "data": data,
        "stderr": done.stderr,
        "pid": done.pid,
    }


def test_replay_processes_every_frame(replayed: dict) -> None:
    report, trace = replayed["report"], replayed["trace"]
    assert report["frames"] == CLIP_FRAMES
    assert [line["frame"] for line in trace] == list(range(CLIP_FRAMES))
    assert report["stages"]["detect"]["frames_out"] == CLIP_FRAMES
    assert report["stages"]["match"]["frames_out"] == CLIP_FRAMES
    assert report["lost"] == 0 and report["drops"] == 0


def test_replay_names_lin_manuel_miranda_in_most_frames_with_a_face(replayed: dict) -> None:
    trace = replayed["trace"]
    with_face = [line for line in trace if line["faces"]]
    named = [line for line in with_face if any(f["name"] == LIN for f in line["faces"])]
    assert len(with_face) > 100
    assert len(named) / len(with_face) > 0.8
    assert all(f["name"] in (LIN, "Unknown", "Alex Lacamoire") for line in trace for f in line["faces"])


def test_every_box_is_inside_the_frame(replayed: dict) -> None:
    width, height = CLIP_SIZE
    boxes = [f["box"] for line in replayed["trace"] for f in line["faces"]]
    assert boxes
    for box in boxes:
        assert 0 <= box["top"] < box["bottom"] <= height
        assert 0 <= box["left"] < box["right"] <= width


def test_faces_per_frame_equal_a_plain_single_process_loop(replayed: dict, loop_counts: list[int]) -> None:
    assert len(loop_counts) == CLIP_FRAMES
    assert [len(line["faces"]) for line in replayed["trace"]] == loop_counts


def test_hog_on_colour_finds_per_frame_what_the_old_scripts_loop_finds(
    gallery_dir: Path, clip: Path, tmp_path: Path, loop_counts: list[int]
) -> None:
    """`--hog-input colour` is the old script's detector: the same faces per frame as its loop, and per frame no
    more than HOG on grey finds (which finds someone in the audience colour misses)."""
    data = copy_gallery(gallery_dir, tmp_path / "data")
    trace = tmp_path / "trace.jsonl"
    done = cli(
        "--data-dir", str(data), "replay", str(clip), "--json", "--trace", str(trace), "--detect-fps", "0",
        "--hog-input", "colour",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    counts = [len(line["faces"]) for line in read_trace(trace)]
    assert counts == plain_loop_face_counts(clip, grey=False)
    assert all(c <= g for c, g in zip(counts, loop_counts, strict=True))
    assert (sum(counts), sum(loop_counts)) == (135, 143)


def test_replay_encodes_far_fewer_faces_than_it_sees(replayed: dict) -> None:
    report = replayed["report"]
    assert report["faces"] == sum(len(line["faces"]) for line in replayed["trace"])
    assert report["faces"] > 100
    # each person is encoded about once, then re-checked now and then: not once per frame
    assert 0 < report["encodings"] <= 0.2 * report["faces"], (report["encodings"], report["faces"])


def test_replay_writes_events_to_the_store(replayed: dict) -> None:
    with sqlite3.connect(replayed["data"] / "facegate.db") as db:
        names = [row[0] for row in db.execute("SELECT name FROM results")]
    # a 9.2 s clip with a 10 s cooldown in stream time: Lin appears once
    assert names.count(LIN) == 1, names


def test_replay_leaves_no_segment_and_no_process(replayed: dict) -> None:
    assert not leaks.alive(replayed["pid"])
    assert leaks.segments_of(replayed["pid"]) == []
    assert leaks.orphans() == {}


def test_replay_prints_a_per_stage_table(gallery_dir: Path, clip: Path, tmp_path: Path) -> None:
    data = copy_gallery(gallery_dir, tmp_path / "data")
    done = cli("replay", str(clip), "--data-dir", str(data), "--workers", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["stage", "frames_in", "frames_out", "fps"]
    assert [line.split()[0] for line in lines[1:5]] == ["capture", "detect", "match", "emit"]
    assert f"{CLIP_FRAMES} frames in" in lines[-1]
    assert "Traceback" not in done.stderr


def _parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _below(root: int) -> dict[int, str]:
    """pid -> title of the `facegate:` processes below `root` (its children, or its forkserver's)."""
    found = {}
    for pid, cmd in leaks.our_processes().items():
        parent = _parent_of(pid)
        if root in (parent, _parent_of(parent)):
            found[pid] = cmd.strip()
    return found


def _stage_pid(root: int, title: str, timeout: float = 60.0) -> int:
    """The pid of the process below `root` titled `facegate: <title>` (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, cmd in _below(root).items():
            if cmd == f"facegate: {title}":
                return pid
        time.sleep(0.1)
    raise AssertionError(f"no process 'facegate: {title}' under {root}")


def test_replay_survives_a_killed_detect_worker(
    gallery_dir: Path, clip: Path, tmp_path: Path, loop_counts: list[int]
) -> None:
    """The dead worker's frames are done again by another: none lost, and every frame's faces as the loop's."""
    data = copy_gallery(gallery_dir, tmp_path / "data")
    trace = tmp_path / "trace.jsonl"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "FACEGATE_WEBHOOKS": "off"}
    # --detect-fps 0: every frame is detected, so each frame's faces can be compared with the loop's
    proc = subprocess.Popen(
        [
            sys.executable,
            "supervisor.py",
            "replay",
            str(clip),
            "--json",
            "--pace",
            "--trace",
            str(trace),
            "--data-dir",
            str(data),
            "--detect-fps",
            "0",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    leaks.record(proc.pid)
    try:
        victim = _stage_pid(proc.pid, "detect-1")
        deadline = time.monotonic() + 60
        while not trace.exists() or trace.stat().st_size < 2000:  # frames are flowing
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        os.kill(victim, signal.SIGKILL)
        ours = _below(proc.pid)  # the replay's own processes, checked below (other runs share this machine)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert report["frames"] == CLIP_FRAMES
    assert report["stages"]["detect"]["restarts"] == 1
    assert report["lost"] == 0 and report["drops"] == 0
    lines = read_trace(trace)
    assert [line["frame"] for line in lines] == list(range(CLIP_FRAMES))
    assert [len(line["faces"]) for line in lines] == loop_counts
    assert "detect-1 exited" in err and "restarting detect-1" in err
    assert "facegate: forkserver" in ours.values() and "facegate: match" in ours.values(), ours
    assert leaks.segments_of(proc.pid) == [] and leaks.orphans() == {}
    assert not [pid for pid in ours if leaks.alive(pid)], "a stage of the replay outlived it"


@pytest.mark.parametrize(
    "make_input, expected",
    [
        (lambda d: str(d / "missing.mp4"), "no such file"),
        (lambda d: _write(d / "bad.mp4", b"\x00not a video" * 100), "not a video"),
    ],
)
def test_replay_rejects_bad_video_in_one_line(tmp_path: Path, make_input, expected: str) -> None:
    done = cli("--data-dir", str(tmp_path / "data"), "replay", make_input(tmp_path))
    assert done.returncode != 0
    assert expected in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _write(path: Path, content: bytes) -> str:
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(
    "image, expected",
    [
        ("two_people.jpg", "found 2 faces"),
        ("notes.md", "not a decodable image"),
        ("missing.png", "no such file"),
    ],
)
def test_register_rejects_photos_without_exactly_one_face(
    faces: Path, tmp_path: Path, image: str, expected: str
) -> None:
    photo = faces / image
    if image == "notes.md":  # a text file with a picture's role: written here, not taken from the test data
        photo = tmp_path / image
        photo.write_text("# not a picture\n")
    done = cli("register", "Somebody", str(photo), "--data-dir", str(tmp_path / "data"))
    assert done.returncode != 0
    assert expected in done.stderr and image in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_register_rejects_a_photo_with_no_face(tmp_path: Path) -> None:
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    done = cli("register", "Nobody", str(blank), "--data-dir", str(tmp_path / "data"))
    assert done.returncode != 0 and "found no face" in done.stderr and "Traceback" not in done.stderr


def test_unusable_data_dir_is_a_one_line_error(faces: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for data_dir, expected in ((a_file, "is not a directory"), (a_file / "data", "cannot be created")):
        done = cli("register", "X", str(faces / "obama.jpg"), "--data-dir", str(data_dir))
        assert done.returncode != 0 and expected in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_read_only_data_dir_is_a_one_line_error(faces: Path, tmp_path: Path) -> None:
    """A directory without write permission; as root (which ignores permissions) sysfs, which refuses files."""
    read_only = Path("/sys") if os.geteuid() == 0 else tmp_path
    if read_only == tmp_path:
        tmp_path.chmod(0o500)
    try:
        done = cli("register", "X", str(faces / "obama.jpg"), "--data-dir", str(read_only))
    finally:
        tmp_path.chmod(0o700)
    assert done.returncode != 0 and f"data dir {read_only} is not writable" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_old_scripts_encodings_are_imported_once(faces: Path, tmp_path: Path) -> None:
    import face_recognition

    encoding = face_recognition.face_encodings(face_recognition.load_image_file(faces / "obama.jpg"))[0]
    np.save(tmp_path / "encodings.npy", np.stack([encoding, encoding * 0.999]))
    (tmp_path / "labels.json").write_text(json.dumps(["Barack Obama", "Barack Obama"]))
    for name, photo in (("Joe Biden", "biden.jpg"), ("Alex Lacamoire", "alex-lacamoire.png")):  # two starts
        done = cli("register", name, str(faces / photo), "--data-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "facegate.db") as db:
        people = dict(
            db.execute("SELECT p.name, COUNT(e.id) FROM persons p JOIN encodings e ON e.person_id = p.id GROUP BY p.id")
        )
    assert people == {"Barack Obama": 2, "Joe Biden": 1, "Alex Lacamoire": 1}


def test_options_before_or_after_the_command_and_from_the_environment(faces: Path, tmp_path: Path) -> None:
    done = cli("register", "Barack Obama", str(faces / "obama.jpg"), env={"FACEGATE_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    done = cli("--data-dir", str(tmp_path), "register", "Joe Biden", str(faces / "biden.jpg"), "--model", "hog")
    assert done.returncode == 0, done.stderr
    assert "2 people known" in done.stdout
    bad = cli("register", "X", str(faces / "obama.jpg"), "--data-dir", str(tmp_path), "--threshold", "7")
    assert bad.returncode != 0 and "threshold must be in (0, 1]" in bad.stderr


def test_replay_shows_a_progress_bar_on_a_terminal_only(
    replayed: dict, gallery_dir: Path, clip: Path, tmp_path: Path
) -> None:
    assert "ETA" not in replayed["stderr"]  # stderr was a pipe: quiet
    data = copy_gallery(gallery_dir, tmp_path / "data")
    master, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "supervisor.py", "--data-dir", str(data), "replay", str(clip)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "FACEGATE_WEBHOOKS": "off"},
    )
    leaks.record(process.pid)
    os.close(terminal)
    shown, deadline = b"", time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 1.0)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal closed: the replay exited
                    break
                if not chunk:
                    break
                shown += chunk
        assert process.wait(timeout=30) == 0, shown.decode(errors="replace")[-2000:]
    finally:
        process.kill()
        os.close(master)
    bars = re.findall(r"\] (\d+)/(\d+) frames +([\d.]+) fps +ETA +(\d+) s", shown.decode(errors="replace"))
    assert len(bars) >= 3, shown.decode(errors="replace")[-2000:]
    assert {total for _, total, _, _ in bars} == {str(CLIP_FRAMES)}
    done = [int(frames) for frames, _, _, _ in bars]
    assert done == sorted(done) and done[-1] == CLIP_FRAMES and done[0] < CLIP_FRAMES
    assert float(bars[-1][2]) > 0 and bars[-1][3] == "0"
