"""Safe on a network by default, against real `supervisor.py` processes on 127.0.0.1.

A first start with no token makes one (0600, in the data dir), says where it is once, and answers
anonymous callers only on `/api/health`; a second start reuses it; `FACEGATE_AUTH=off` (or
`--no-auth`) runs open and warns at every start. Changing routes take only JSON or multipart
(415), a Host that is not this service's is a 400 (DNS rebinding), and every answer carries the
security headers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.service_proc import ServiceProcess, poll_until

MADE = "facegate made an admin token"
OFF = "AUTHENTICATION IS OFF (FACEGATE_AUTH=off)"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def _anonymous(svc: ServiceProcess, path: str, **headers: str) -> requests.Response:
    return requests.get(svc.url + path, headers=headers, timeout=30)


def _healthy(svc: ServiceProcess) -> bool:
    return poll_until(lambda: _anonymous(svc, "/api/health").status_code == 200, 120, 0.5) is not None


def test_a_first_start_is_closed_and_a_second_reuses_its_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServiceProcess(data, "--workers", "1", token=None).start()
    try:
        for path in ("/api/status", "/api/persons", "/api/results", "/metrics"):
            assert _anonymous(first, path).status_code == 401, path
        assert _healthy(first), "health answers anonymously"
        assert set(_anonymous(first, "/api/health").json()) == {"status", "version", "node"}
        made = data / "admin_token"
        assert made.stat().st_mode & 0o777 == 0o600, oct(made.stat().st_mode)
        token = made.read_text().strip()
        assert len(token) >= 43 and first.token == token  # 32 random bytes, URL-safe base64
        assert first.get("/api/persons").status_code == 200 and first.get("/api/status").status_code == 200
        assert first.get("/api/persons", token="wrong").status_code == 401
    finally:
        assert first.stop() == 0
    log = first.log()
    assert f"operator page: http://127.0.0.1:{first.port}/" in log and f"cat {made.resolve()}" in log, log[-2000:]
    assert token not in log, "the token itself is never printed"

    second = ServiceProcess(data, "--workers", "1", token=None).start()
    try:
        assert second.token == token and made.read_text().strip() == token, "the second start reuses the token"
        assert _anonymous(second, "/api/persons").status_code == 401
        assert second.get("/api/persons").status_code == 200
    finally:
        assert second.stop() == 0
    assert second.log().count(MADE) == 1, "the token is announced once, on the start that made it"


def test_auth_off_runs_open_and_warns_at_every_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for how in (
        ServiceProcess(data, "--workers", "1", token=None, env={"FACEGATE_AUTH": "off"}),
        ServiceProcess(data, "--workers", "1", "--no-auth", token=None),
    ):
        svc = how.start()
        try:
            assert _anonymous(svc, "/api/persons").status_code == 200
            assert _anonymous(svc, "/api/status").status_code == 200
        finally:
            assert svc.stop() == 0
    assert not (data / "admin_token").exists(), "no token is made when authentication is off"
    assert svc.log().count(OFF) == 2, "the warning comes at every start"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    service = ServiceProcess(tmp_path_factory.mktemp("guards"), "--workers", "1").start()
    yield service
    assert service.stop() == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", '{"id": "plain", "stream_url": "0"}'),  # a "simple" cross-site request: no preflight
        ("text/plain;charset=UTF-8", '{"id": "plain", "stream_url": "0"}'),
        ("application/x-www-form-urlencoded", "id=plain&stream_url=0"),
        (None, '{"id": "plain", "stream_url": "0"}'),  # a Blob without a type sends no Content-Type at all
    ],
)
def test_a_changing_route_takes_only_json_or_multipart(
    svc: ServiceProcess, content_type: str | None, body: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = svc.post("/api/cameras", data=body.encode(), headers=headers)
    assert answer.status_code == 415, answer.text
    assert "application/json or multipart/form-data" in answer.json()["error"]
    assert "plain" not in [c["id"] for c in svc.get("/api/cameras").json()["cameras"]], "nothing was added"


def test_a_bodiless_post_says_text_plain_and_is_refused(svc: ServiceProcess) -> None:
    refused = svc.post("/api/stop", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415 and "text/plain" in refused.json()["error"]
    assert svc.post("/api/stop").status_code == 200, "with no body and no type, a POST still works"
    added = svc.post("/api/cameras", json={"id": "json-cam", "stream_url": "0", "enabled": False})
    assert added.status_code in (200, 201), added.text
    assert svc.delete("/api/cameras/json-cam").status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:5001", "rebind.attacker.test.", "10.255.1.2", "", "localhost:notaport"]
)
def test_a_foreign_host_is_refused(svc: ServiceProcess, host: str) -> None:
    for path in ("/api/health", "/api/persons", "/"):
        answer = svc.get(path, headers={"Host": host})
        assert answer.status_code == 400, (host, path, answer.status_code)
        assert "Host" in answer.json()["error"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST."])
def test_this_service_s_names_are_answered(svc: ServiceProcess, host: str) -> None:
    assert svc.get("/api/persons", headers={"Host": f"{host}:{svc.port}"}).status_code == 200


def test_every_answer_carries_the_security_headers(svc: ServiceProcess) -> None:
    answers = [
        svc.get("/"),
        svc.get("/ui/app.js"),
        svc.get("/api/persons"),
        svc.get("/api/health"),
        svc.get("/api/nope"),
        svc.get("/api/persons", token=""),
        svc.get("/api/persons", headers={"Host": "x"}),
        svc.post("/api/start", headers={"Content-Type": "text/plain"}),
    ]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.url, answer.status_code, name)
        policy = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe" not in policy


def test_allowed_hosts_replace_the_defaults(tmp_path: Path) -> None:
    svc = ServiceProcess(
        tmp_path / "data", "--workers", "1", env={"FACEGATE_ALLOWED_HOSTS": "face.example.org, 192.0.2.77"}
    ).start()
    try:
        assert svc.get("/api/persons", headers={"Host": "face.example.org"}).status_code == 200
        assert svc.get("/api/persons", headers={"Host": "192.0.2.77:8443"}).status_code == 200
        assert svc.get("/api/persons", headers={"Host": "127.0.0.1"}).status_code == 200, "loopback stays allowed"
        assert svc.get("/api/persons", headers={"Host": "other.example.org"}).status_code == 400
    finally:
        assert svc.stop() == 0
