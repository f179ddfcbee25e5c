"""The camera's own refusal (pipeline/transport/rtsp_probe.py) against a Digest camera, and capture's FFmpeg options."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from pipeline.capture import ffmpeg_options
from pipeline.transport.rtsp_probe import describe_status, open_failure

REALM, NONCE, USER, PASSWORD = "cam", "abc123", "admin", "pa:ss"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _answer(request: str) -> str:
    """A Digest camera: 200 to a DESCRIBE carrying the right response, else 401 with its challenge."""
    uri = request.split(" ", 2)[1]
    found = re.search(r'response="([0-9a-f]+)"', request)
    expected = _md5(f"{_md5(f'{USER}:{REALM}:{PASSWORD}')}:{NONCE}:{_md5(f'DESCRIBE:{uri}')}")
    if found and found.group(1) == expected and f'username="{USER}"' in request:
        return "RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n"
    return f'RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm="{REALM}", nonce="{NONCE}"\r\n\r\n'


@pytest.fixture
def digest_camera() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def serve() -> None:
        for _ in range(4):  # at most four connections, each of at most two requests
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                for _ in range(2):
                    try:
                        request = conn.recv(4096).decode()
                    except OSError:
                        break
                    if not request:
                        break
                    conn.sendall(_answer(request).encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(10)


def test_the_camera_answer_is_asked_with_the_urls_credentials(digest_camera: int) -> None:
    base = f"127.0.0.1:{digest_camera}/live"
    assert describe_status(f"rtsp://{USER}:pa%3Ass@{base}") == "200 OK"
    assert describe_status(f"rtsp://{USER}:wrong@{base}") == "401 Unauthorized"
    assert describe_status(f"rtsp://{base}") == "401 Unauthorized"
    refused = open_failure(f"rtsp://{USER}:wrong@{base}")
    assert refused == "cannot open stream: the camera answered 401 Unauthorized" and "wrong" not in refused


def test_no_answer_or_no_rtsp_says_only_that_the_stream_did_not_open() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert describe_status(f"rtsp://127.0.0.1:{closed}/live", timeout=2) is None
    assert open_failure(f"rtsp://127.0.0.1:{closed}/live") == "cannot open stream"
    assert open_failure("http://127.0.0.1:1/stream.mjpg") == "cannot open stream"


def test_rtsp_is_read_over_the_cameras_transport_with_the_operators_options_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rtsp_only = "protocol_whitelist;rtsp,rtp,udp,tcp"  # last, so the operator's options cannot widen it
    assert ffmpeg_options("rtsp://cam/live", "tcp") == f"rtsp_transport;tcp|{rtsp_only}"
    assert ffmpeg_options("RTSP://cam/live", "udp") == f"rtsp_transport;udp|{rtsp_only}"
    assert ffmpeg_options("http://cam/stream.mjpg", "tcp") == "protocol_whitelist;http,tcp"
    monkeypatch.setattr("pipeline.capture.OPERATOR_FFMPEG_OPTIONS", "max_delay;500000")
    assert ffmpeg_options("rtsp://cam/live", "tcp") == f"rtsp_transport;tcp|max_delay;500000|{rtsp_only}"
    assert ffmpeg_options("http://cam/stream.mjpg", "tcp") == "max_delay;500000|protocol_whitelist;http,tcp"
