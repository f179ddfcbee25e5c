"""Small unit tests of the security parts: masking, restoring passwords, tokens, signatures, warnings, tables."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import bottle
import pytest
import sqlalchemy as sa

from control import auth
from control.audit_plugin import AuditPlugin
from control.declaration import Scope, Undeclared
from control.facework import FaceWorkConfig, FaceWorkPool
from facegate.audit import AuditEntry, AuditTrail
from facegate.logsetup import setup_logging
from facegate.redact import RedactingFormatter, configured_secrets, learn, mask_url, redact, restore_password
from facegate.settings import SettingError, Settings, from_environment
from facegate.store import Store


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtsp://admin:pw@cam/live", "rtsp://admin:***@cam/live"),
        ("rtsp://admin:p@ss@cam:554/x", "rtsp://admin:***@cam:554/x"),
        ("rtsps://:secret@10.0.0.2/", "rtsps://:***@10.0.0.2/"),
        ("http://cam/video.cgi?user=a&pwd=xx&res=1", "http://cam/video.cgi?user=a&pwd=***&res=1"),
        ("http://cam/snap?Password=x", "http://cam/snap?Password=***"),
        ("rtsp://cam:554/stream", "rtsp://cam:554/stream"),
        ("rtsp://admin@cam/live", "rtsp://admin@cam/live"),
        ("/videos/clip.mp4", "/videos/clip.mp4"),
        ("0", "0"),
        # parsed, so whatever the secret holds
        ("rtsp://admin:Se'cr\"et1@cam.local/live", "rtsp://admin:***@cam.local/live"),
        (
            "http://cam.local/snap.cgi?user=admin&loginPas=Zq9'x\"&y&res=1#access_token=tok-98765",
            "http://cam.local/snap.cgi?user=admin&loginPas=***&res=1#access_token=***",
        ),
        ("rtsp://admin:pa/ss?#@cam/live", "rtsp://admin:***@cam/live"),
        ("http://cam/a?KEY=k1&Signature=s1&sig=s2&page=2", "http://cam/a?KEY=***&Signature=***&sig=***&page=2"),
        ("rtsp://cam:554/x?email=a@b.com", "rtsp://cam:554/x?email=a@b.com"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_redact_masks_every_string_and_copies() -> None:
    value = {"cameras": [{"stream_url": "rtsp://a:b@c/d", "fps": 1.5}], "stream_url": None, "n": 3}
    assert redact(value) == {"cameras": [{"stream_url": "rtsp://a:***@c/d", "fps": 1.5}], "stream_url": None, "n": 3}
    assert value["cameras"][0]["stream_url"] == "rtsp://a:b@c/d"


QUOTED = "rtsp://admin:Se'cr\"et1@cam.local/live"
QUERY = "http://cam.local/snap.cgi?user=admin&loginPas=Zq9'x\"&y&res=1#access_token=tok-98765"


def test_a_secret_found_in_one_place_is_masked_everywhere_in_the_answer() -> None:
    answer = {
        "cameras": [
            {"stream_url": QUOTED, "error": "401 for admin:Se'cr\"et1 at cam.local"},
            {"stream_url": QUERY, "error": "refused Zq9'x\"&y"},
        ],
        "log": json.dumps({"url": QUOTED}),
        "repr": repr(QUERY),
    }
    text = json.dumps(redact(answer))
    for secret in ("Se'cr", 'cr\\"et1', "Zq9'x", "tok-98765"):
        assert secret not in text, secret
    assert "rtsp://admin:***@cam.local/live" in text and "loginPas=***" in text


def test_a_learned_url_is_masked_in_free_text_in_any_form() -> None:
    url = "rtsp://admin:Qu'o\"te-77@door.local/live"
    line = f"config updated: stream_url={url}, cameras=[{{'stream_url': {url!r}}}] {json.dumps(url)} {quote(url)}"
    learn(url)
    masked = redact(line)
    assert "Qu'o" not in masked and "te-77" not in masked and "Qu%27o" not in masked, masked
    assert masked.startswith("config updated: stream_url=rtsp://admin:***@door.local/live, ")
    query = "http://cam.local/s.cgi?loginpas=Ab'c\"d-99&x=1"
    learn(query)
    masked = redact(f"started on query ({query}), {[query]}")
    assert "Ab'c" not in masked and "d-99" not in masked and "loginpas=***&x=1" in masked, masked


def test_a_metrics_line_keeps_its_syntax() -> None:
    line = 'facegate_camera_info{camera="d",stream_url="http://cam/s?pwd=abcd1234"} 1.0'
    assert redact(line) == 'facegate_camera_info{camera="d",stream_url="http://cam/s?pwd=***"} 1.0'


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("rtsp://admin:***@cam/live", "rtsp://admin:pw@cam/live"),  # the masked URL sent back
        ("rtsp://admin@cam/live", "rtsp://admin:pw@cam/live"),  # the URL without its password
        ("rtsp://admin:new@cam/live", "rtsp://admin:new@cam/live"),  # a new password
        ("rtsp://cam/live", "rtsp://cam/live"),  # no credentials at all: as sent
        ("rtsp://other:***@cam/live", "rtsp://other:***@cam/live"),  # another user: as sent
        ("rtsp://admin@other/live", "rtsp://admin@other/live"),  # another host: as sent
    ],
)
def test_restore_password(sent: str, kept: str) -> None:
    assert restore_password(sent, "rtsp://admin:pw@cam/live") == kept


def test_restore_a_query_password() -> None:
    stored = "http://cam/v.cgi?user=a&pwd=xx"
    assert restore_password("http://cam/v.cgi?user=a&pwd=***", stored) == stored
    assert restore_password("rtsp://a:***@cam/", None) == "rtsp://a:***@cam/"


def test_configured_secrets_split_comma_lists_and_skip_short_ones() -> None:
    env = {
        "FACEGATE_API_TOKEN": "adm-one, adm-two",
        "FACEGATE_READ_TOKEN": "abc",
        "FACIAL_RECOGNITION_WEBHOOK_SECRET": "whsec_longer_secret",
    }
    assert configured_secrets(env) == ["whsec_longer_secret", "adm-one", "adm-two"]


def test_the_log_formatter_masks_messages_arguments_and_tracebacks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEGATE_API_TOKEN", "tok-123456")
    setup_logging("INFO")
    try:
        log = logging.getLogger("test.redact")
        log.info("opening %s with %s", "rtsp://admin:hunter2@cam/live", "Bearer tok-123456")
        try:
            raise RuntimeError("cannot open rtsp://admin:hunter2@cam/live")
        except RuntimeError:
            log.exception("failed")
    finally:
        setup_logging("INFO")
    err = capsys.readouterr().err
    assert "rtsp://admin:***@cam/live" in err and "Bearer ***" in err and "RuntimeError" in err
    assert "hunter2" not in err and "tok-123456" not in err
    formatter = RedactingFormatter("%(message)s", secrets=["s3cr3t"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "secret is %s", ("s3cr3t",), None)
    assert formatter.format(record) == "secret is ***"


def test_token_scopes_and_rotation() -> None:
    config = auth.AuthConfig.from_env({"FACEGATE_API_TOKEN": "a1, a2,,", "FACEGATE_READ_TOKEN": "r1"})
    assert config.admin_tokens == ("a1", "a2") and config.read_tokens == ("r1",) and config.enabled
    tokens = auth.TokenChecker(config)
    assert tokens.scope_of("Bearer a1") is Scope.ADMIN and tokens.scope_of("bearer a2") is Scope.ADMIN
    assert tokens.scope_of("Bearer r1") is Scope.READ
    for header in ("", "Bearer", "Bearer ", "Basic a1", "Bearer a1x", "Bearer r", "a1"):
        assert tokens.scope_of(header) is None, header
    assert not auth.AuthConfig.from_env({}).enabled
    assert auth.AuthConfig.from_env({}).metrics_need_token, "closed by default: /metrics needs a read token"
    assert not auth.AuthConfig.from_env({"FACEGATE_METRICS_AUTH": "open"}).metrics_need_token


def test_signed_urls_expire_and_name_one_path() -> None:
    now = [1000.0]
    signer = auth.UrlSigner(ttl_s=60, key=b"k" * 32, clock=lambda: now[0])
    query, expires = signer.sign("/api/unknown/3.jpg")
    params = dict(p.split("=") for p in query.split("&"))
    assert int(params["expires"]) == expires == 1060
    assert signer.verify("/api/unknown/3.jpg", params["expires"], params["signature"])
    assert not signer.verify("/api/unknown/4.jpg", params["expires"], params["signature"])
    assert not signer.verify("/api/unknown/3.jpg", str(expires + 600), params["signature"])
    assert not signer.verify("/api/unknown/3.jpg", "soon", params["signature"])
    now[0] = 1061.0
    assert not signer.verify("/api/unknown/3.jpg", params["expires"], params["signature"])
    other = auth.UrlSigner(ttl_s=60, clock=lambda: 1000.0)  # a restart makes a new key
    assert not other.verify("/api/unknown/3.jpg", params["expires"], params["signature"])


@pytest.mark.parametrize(
    ("host", "loud"),
    [
        ("0.0.0.0", True),
        ("192.168.1.20", True),
        ("::", True),
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
    ],
)
def test_no_token_warns_loudly_off_loopback(host: str, loud: bool, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="control.auth"):
        auth.warn_if_open(auth.AuthConfig(), host)
    text = caplog.text
    assert ("anyone on the network" in text) is loud
    assert "AUTHENTICATION IS OFF (FACEGATE_AUTH=off)" in text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="control.auth"):
        auth.warn_if_open(auth.AuthConfig(admin_tokens=("t0k3n-value",)), host)
    assert "IS OFF" not in caplog.text and "t0k3n-value" not in caplog.text


def test_a_route_without_a_scope_or_an_audit_action_breaks_the_app(tmp_path: Path) -> None:
    app = bottle.Bottle()
    app.install(auth.AuthPlugin(auth.AuthConfig(), auth.UrlSigner(60)))
    app.route("/api/forgotten", "GET", lambda: {})
    with pytest.raises(Undeclared, match="GET /api/forgotten declares no scope"):
        app.routes[0].prepare()
    audited = bottle.Bottle()
    store = Store(tmp_path)
    audited.install(AuditPlugin(AuditTrail(store.engine, lambda: 0), store.core))
    audited.route("/api/forgotten", "POST", lambda: {}, scope=Scope.ADMIN)
    audited.route("/api/harmless", "POST", lambda: {}, scope=Scope.ADMIN, action=None)  # declared: changes nothing
    with pytest.raises(Undeclared, match="POST /api/forgotten declares no action"):
        audited.routes[0].prepare()
    audited.routes[1].prepare()
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store on each backend: the audit trail keeps its table in the store's database."""
    url = "" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    opened = Store(tmp_path, url)
    yield opened
    opened.close()


def test_the_audit_trail_only_grows(store: Store) -> None:
    trail = AuditTrail(store.engine, lambda: 1)
    row = trail.record(AuditEntry("admin", "127.0.0.1", "camera.add", "door", {"stream_url": "rtsp://a:pw@cam/"}))
    listed = trail.list()
    assert [r["id"] for r in listed] == [row] and listed[0]["details"] == {"stream_url": "rtsp://a:***@cam/"}
    assert trail.count() == 1
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as db:
        db.execute(sa.text("UPDATE audit SET action = 'x'"))
    with pytest.raises(sa.exc.DBAPIError, match="younger than a day"), store.engine.begin() as db:
        db.execute(sa.text("DELETE FROM audit"))
    with store.engine.begin() as db:  # a row older than a day may go: that is how the retention prunes
        db.execute(
            sa.text(
                "INSERT INTO audit(at, time, scope, action, details) "
                "VALUES (1000, '1970-01-01T00:16:40Z', 'admin', 'planted.old', '{}')"
            )
        )
    trail.record(AuditEntry("admin", None, "config.update", None, {}))
    assert [r["action"] for r in trail.list()] == ["config.update", "camera.add"]


def test_face_work_settings_from_the_environment() -> None:
    assert FaceWorkConfig.of(Settings.of({})) == FaceWorkConfig(workers=1, queue=2, max_pixels=16_000_000)
    given = from_environment(
        {"FACEGATE_API_FACE_WORKERS": "2", "FACEGATE_API_FACE_QUEUE": "0", "FACEGATE_MAX_IMAGE_PIXELS": "1000000"}
    )
    config = FaceWorkConfig.of(Settings.of(given))
    assert (config.workers, config.queue, config.max_pixels) == (2, 0, 1_000_000)
    with pytest.raises(SettingError, match="api_face_workers must be a number"):
        from_environment({"FACEGATE_API_FACE_WORKERS": "lots"})
    with pytest.raises(SettingError, match="api_face_workers must be in"):
        from_environment({"FACEGATE_API_FACE_WORKERS": "0"})


def test_photo_workers_run_blas_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real photo worker process: it encodes with numpy's BLAS beside the detect workers, so one thread."""
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    pool = FaceWorkPool(FaceWorkConfig())
    try:
        assert pool.run(os.getenv, "OPENBLAS_NUM_THREADS") == "1"
    finally:
        pool.close()
