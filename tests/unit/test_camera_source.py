"""Camera sources: what `parse` accepts, what the API may add, and FFmpeg held to the scheme's protocols.

The whitelist is checked on this machine's OpenCV build: a real listener on 127.0.0.1 sees whether the
capture connected to it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import pytest

from facegate import camera_source
from facegate.camera_source import SourceError, check_api_source, parse
from facegate.settings import SettingError, validate
from pipeline.capture import is_file_source, open_source

REFUSED = [
    "file://gopher://127.0.0.1:6379/_INFO",
    "file://tcp://127.0.0.1:25",
    "file://relative/clip.mp4",
    "gopher://127.0.0.1:70/",
    "tcp://127.0.0.1:25",
    "concat:/a.mp4|/b.mp4",
    "ftp://camera/1",
    "rtsp:/no-host/live",
    "http://",
    "rtsp://cam.local:99999/live",
    "rtsp://cam.local/live\r\nX-Injected: 1",
    "rtsp://cam.local/li\x00ve",
    "/videos/door\x1b.mp4",
    "/videos/door.mp4\n",
    "\trtsp://cam.local/live",
    "rtsp://cam.local/live now",
    "",
    True,
    12.5,
]


@pytest.mark.parametrize("value", REFUSED)
def test_sources_nobody_meant_are_refused_everywhere(value: object) -> None:
    with pytest.raises(SourceError):
        parse(value)
    with pytest.raises(SettingError):
        validate({"stream_url": value})
    with pytest.raises(SettingError):
        validate({"cameras": [{"id": "x", "stream_url": value}]})


@pytest.mark.parametrize(
    ("value", "kind", "protocols"),
    [
        ("0", "device", ("file",)),
        (3, "device", ("file",)),
        ("rtsp://admin:Se'cr\"et1@cam.local/live", "network", ("rtsp", "rtp", "udp", "tcp")),
        ("RTSPS://cam.local:322/live", "network", ("rtsps", "rtsp", "rtp", "udp", "tcp", "tls")),
        ("rtmp://cam.local/live/key", "network", ("rtmp", "tcp")),
        ("http://cam.local/video.mjpg", "network", ("http", "tcp")),
        ("https://cam.local/index.m3u8", "network", ("https", "http", "tls", "tcp")),
        ("/videos/door.mp4", "file", ("file",)),
        ("file:///videos/door.mp4", "file", ("file",)),
        ("clips/door.mp4", "file", ("file",)),
    ],
)
def test_what_a_source_is_and_the_protocols_it_may_use(value: object, kind: str, protocols: tuple[str, ...]) -> None:
    source = parse(value)
    assert (source.kind, source.protocols) == (kind, protocols)
    assert validate({"stream_url": value})["stream_url"] == str(value)


def test_the_ffmpeg_options_name_the_transport_and_last_the_whitelist() -> None:
    assert parse("rtsp://cam/live").ffmpeg_options() == "rtsp_transport;tcp|protocol_whitelist;rtsp,rtp,udp,tcp"
    assert (
        parse("rtsps://cam/live").ffmpeg_options("udp", "max_delay;5")
        == "rtsp_transport;udp|max_delay;5|protocol_whitelist;rtsps,rtsp,rtp,udp,tcp,tls"
    )
    assert parse("http://cam/v.mjpg").ffmpeg_options() == "protocol_whitelist;http,tcp"
    assert parse("/v/door.mp4").ffmpeg_options() == "protocol_whitelist;file"
    assert parse("file:///v/door.mp4").target == "/v/door.mp4"


def test_a_non_ascii_digit_is_no_device_index() -> None:
    assert parse("²").kind == "file"  # a (relative) file name, which the API refuses
    assert not is_file_source("file://gopher://x")  # refused sources are no files (opening them says why)


def test_the_api_takes_files_only_inside_the_media_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(camera_source.MEDIA_DIR_ENV, raising=False)
    data_dir = tmp_path / "data"
    media = data_dir / "media"
    (media / "sub").mkdir(parents=True)
    (media / "door.mp4").write_bytes(b"x")
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"x")
    (media / "link.mp4").symlink_to(outside)
    (media / "sub" / "escape").symlink_to(tmp_path)
    for fine in (
        media / "door.mp4",
        f"file://{media / 'door.mp4'}",
        media / "sub" / "not-yet.mp4",
        "rtsp://cam/live",
        "0",
    ):
        check_api_source(str(fine), data_dir)
    for refused in (
        "/etc/hostname",
        "file:///etc/passwd",
        outside,
        media / ".." / "outside.mp4",
        f"{media}/sub/../../../outside.mp4",
        media / "link.mp4",
        media / "sub" / "escape" / "outside.mp4",
        "door.mp4",
        "file://gopher://127.0.0.1:6379/_INFO",
    ):
        with pytest.raises(SourceError):
            check_api_source(str(refused), data_dir)
    monkeypatch.setenv(camera_source.MEDIA_DIR_ENV, str(tmp_path))
    check_api_source(str(outside), data_dir)
    with pytest.raises(SourceError, match="media dir"):
        check_api_source("/etc/hostname", data_dir)


# --- the whitelist on this OpenCV build ----------------------------------------------------------------------
@contextmanager
def listener() -> Iterator[tuple[int, list[int]]]:
    """A TCP listener on 127.0.0.1 that counts the connections it gets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.05)
    hits: list[int] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], hits
    finally:
        done.set()
        thread.join(5)
        server.close()


def _settle(hits: list[int], want: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while len(hits) < want and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(hits)


def test_the_whitelist_keeps_ffmpeg_to_the_schemes_protocols(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(camera_source.FFMPEG_OPTIONS_ENV, "")
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 3000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 3000]
    with listener() as (port, hits):
        # a file source's whitelist: a nested network protocol is refused before any connection
        os.environ[camera_source.FFMPEG_OPTIONS_ENV] = parse(str(clip)).ffmpeg_options()
        assert not cv2.VideoCapture(f"tcp://127.0.0.1:{port}", cv2.CAP_FFMPEG, params).isOpened()
        assert not cv2.VideoCapture(f"http://127.0.0.1:{port}/x", cv2.CAP_FFMPEG, params).isOpened()
        assert _settle(hits, 1, timeout=1.0) == 0, "FFmpeg connected despite the file whitelist"
        # an http source's whitelist lets http (over tcp) through: the listener sees it
        open_source(f"http://127.0.0.1:{port}/video.mjpg").release()
        assert _settle(hits, 1) == 1
        assert os.environ[camera_source.FFMPEG_OPTIONS_ENV] == "protocol_whitelist;http,tcp"
        # a refused source never reaches FFmpeg
        with pytest.raises(SourceError):
            open_source(f"file://tcp://127.0.0.1:{port}")
        assert _settle(hits, 2, timeout=1.0) == 1
    capture = open_source(str(clip))
    try:
        assert capture.isOpened() and capture.read()[0], "a file still plays under its whitelist"
    finally:
        capture.release()
    assert os.environ[camera_source.FFMPEG_OPTIONS_ENV] == "protocol_whitelist;file"


def test_a_camera_is_decoded_on_one_ffmpeg_thread(clip: Path) -> None:
    """OpenCV's default is a decoding thread a core (frame threading); capture asks for one (pipeline/capture.py)."""
    capture = open_source(str(clip))
    try:
        assert capture.read()[0]
        assert capture.get(cv2.CAP_PROP_N_THREADS) == 1
    finally:
        capture.release()
