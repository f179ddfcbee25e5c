"""Why an RTSP camera would not open: its own answer to a DESCRIBE, for the camera's `error`.

OpenCV only says that a stream did not open; the camera's reason (401 Unauthorized for a wrong
password, 404 for a wrong path) stays in FFmpeg's log. After a failed open, capture asks the camera
itself once: a DESCRIBE, answered again with the URL's credentials (Basic or Digest, as the camera
asks) when the first answer is a 401. The answer's status line is what the operator sees; the URL,
and so its password, never goes into that text.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
from urllib.parse import unquote, urlsplit

DEFAULT_PORT = 554


def _request(url: str, cseq: int, authorization: str | None) -> bytes:
    lines = [f"DESCRIBE {url} RTSP/1.0", f"CSeq: {cseq}", "Accept: application/sdp", "User-Agent: facegate"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket, request: bytes) -> tuple[str, dict[str, str]]:
    """Send `request`; the status line's code and reason, and the headers (lower-case names)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("RTSP/"):
        raise ConnectionError("no RTSP answer")
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return " ".join(parts[1:]), headers


def _authorization(challenge: str, user: str, password: str, uri: str) -> str:
    """The Authorization header answering a WWW-Authenticate `challenge` (Basic or Digest with MD5)."""
    if challenge.lower().startswith("digest"):
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge[len("digest") :]))
        realm, nonce = fields.get("realm", ""), fields.get("nonce", "")
        ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()  # RTSP Digest is MD5
        ha2 = hashlib.md5(f"DESCRIBE:{uri}".encode()).hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        return f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{response}"'
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def describe_status(url: str, timeout: float = 5.0) -> str | None:
    """The camera's answer to DESCRIBE (e.g. "401 Unauthorized"), with the URL's credentials; None if no answer."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "rtsp" or not parts.hostname:
        return None
    bare = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()
    try:
        with socket.create_connection((parts.hostname, parts.port or DEFAULT_PORT), timeout=timeout) as sock:
            status, headers = _answer(sock, _request(bare, 1, None))
            if status.startswith("401") and parts.username is not None and "www-authenticate" in headers:
                authorization = _authorization(
                    headers["www-authenticate"], unquote(parts.username), unquote(parts.password or ""), bare
                )
                status, _ = _answer(sock, _request(bare, 2, authorization))
    except (OSError, ValueError, ConnectionError):
        return None
    return status


def open_failure(url: str) -> str:
    """Why `url` did not open, for the camera's `error`: with an RTSP camera's refusal when it gave one."""
    answer = describe_status(url)
    return (
        f"cannot open stream: the camera answered {answer}"
        if answer and not answer.startswith("2")
        else "cannot open stream"
    )
