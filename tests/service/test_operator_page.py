"""The operator page in a real browser (Debian's Chromium driven by Playwright) against a running service.

The page itself is open; its data is not: it asks for the API token on its first 401, then shows a
camera's live MJPEG and the unknown faces' crops through signed URLs (no token in any URL), lists
the registered people, and registers an unknown face so that the clip, as it plays again, names them.
Then who is here: Lin present on the camera, his row in the day's attendance and in its CSV (downloaded
with the token), and a webhook endpoint (a local receiver) with the deliveries it received.
The test saves a screenshot of the page and prints its path.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import copy_gallery
from tests.support.webhook_receiver import WebhookReceiver

CHROMIUM = "/usr/bin/chromium"
TOKEN = "operator-token"
LIN = "Lin-Manuel Miranda"


@pytest.fixture()
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hooks:
        yield hooks


@pytest.fixture()
def service(gallery_dir: Path, tmp_path: Path, clip: Path, receiver: WebhookReceiver) -> Iterator[ServiceProcess]:
    # webhooks on, the v1 webhook and the test's endpoint both to the receiver (on loopback)
    env = {"FACEGATE_WEBHOOKS": "on", "FACEGATE_WEBHOOK_PRIVATE_OK": "1", "NEXTJS_WEBHOOK_URL": receiver.url}
    proc = ServiceProcess(copy_gallery(gallery_dir, tmp_path / "data"), token=TOKEN, env=env)
    proc.start()
    try:
        lin = next(p for p in proc.get("/api/persons").json()["persons"] if p["name"] == LIN)
        assert proc.delete(f"/api/persons/{lin['id']}").status_code == 200  # Lin is a stranger now
        assert proc.put("/api/config", json={"stream_url": str(clip), "event_cooldown_s": 2}).status_code == 200
        assert proc.post("/api/start").status_code == 200
        yield proc
    finally:
        assert proc.stop() == 0, proc.log()[-3000:]


def test_operator_page_in_chromium(service: ServiceProcess, receiver: WebhookReceiver, tmp_path: Path) -> None:
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "Chromium is missing: apt-get install -y chromium"
    added = service.post("/api/webhooks/endpoints", json={"url": receiver.url, "description": "the test's receiver"})
    assert added.status_code == 201, added.text
    endpoint_id = added.json()["endpoint"]["id"]
    sent_tokens, urls = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "request",
                lambda r: sent_tokens.append(r.headers.get("authorization")) if "/register" in r.url else None,
            )
            page.on("request", lambda r: urls.append(r.url))
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
            opened = page.goto(service.url + "/")
            assert opened.status == 200  # the page itself is open; its data is not
            assert "frame-ancestors 'none'" in opened.headers["content-security-policy"]
            expect(page.locator("#token-form")).to_be_visible()  # the first call got a 401: the page asks once
            expect(page.locator("#people .person-name")).to_have_count(0)
            page.fill("#token-input", TOKEN)
            page.click("#token-form button")
            expect(page.locator("#message")).to_have_text("token set for this tab")

            expect(page.locator("#people .person-name")).to_have_text(["Alex Lacamoire"])
            camera = page.locator('#cameras figure[data-camera="cam0"]')
            expect(camera.locator(".state")).to_have_text("live", timeout=60_000)
            stream = camera.locator("img.stream")
            page.wait_for_function("img => img.naturalWidth > 0", arg=stream.element_handle(), timeout=30_000)
            assert stream.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [640, 360]
            assert "/api/cameras/cam0/stream.mjpg?" in stream.get_attribute("src")  # through a signed URL
            assert "signature=" in stream.get_attribute("src")

            expect(page.locator("#unknown figure").first).to_be_visible(timeout=90_000)
            unknown_id = page.locator("#unknown figure").first.get_attribute("data-unknown")
            face = page.locator(f'#unknown figure[data-unknown="{unknown_id}"]')  # newer faces come first
            crop = face.locator("img")
            page.wait_for_function("img => img.naturalWidth > 0", arg=crop.element_handle(), timeout=30_000)
            assert "signature=" in crop.get_attribute("src")
            face.locator(".register-name").fill(LIN)
            face.locator(".register").click()
            expect(page.locator("#message")).to_have_text(f"registered {LIN}")
            assert sent_tokens == [f"Bearer {TOKEN}"]
            expect(page.locator("#token-form")).to_be_hidden()

            expect(page.locator("#people .person-name")).to_have_text(["Alex Lacamoire", LIN])
            expect(page.locator("#events .event-name", has_text=LIN).first).to_be_visible(timeout=90_000)

            # who is here: Lin present on cam0, his attendance row today and in its CSV, the endpoint's counts
            present = page.locator("#presence tr", has_text=LIN)
            expect(present.locator(".present-camera")).to_have_text("cam0", timeout=30_000)
            row = page.locator("#attendance tbody tr", has_text=LIN)
            expect(row.locator(".cameras")).to_have_text("cam0", timeout=30_000)
            assert int(row.locator(".sightings").inner_text()) >= 1
            assert row.locator(".first-seen").inner_text() and row.locator(".last-seen").inner_text()
            day = page.locator("#attendance-date").input_value()
            served = service.get(f"/api/attendance?from={day}&to={day}").json()["days"]
            assert [r["name"] for r in served if r["name"] == LIN] == [LIN]  # the day the page shows is the service's
            csv_link = page.locator("#attendance-csv")
            assert csv_link.get_attribute("href") == f"/api/attendance?from={day}&to={day}&format=csv"
            with page.expect_download() as downloaded:
                csv_link.click()
            header, *lines = Path(downloaded.value.path()).read_text(encoding="utf-8").splitlines()
            assert header.split(",")[:3] == ["date", "person_id", "name"]
            assert [line for line in lines if LIN in line and line.startswith(day)]
            hook = page.locator(f'#endpoints tr[data-endpoint="{endpoint_id}"]')
            expect(hook.locator(".endpoint-url")).to_have_text(receiver.url)
            expect(hook.locator(".delivered")).not_to_have_text("0", timeout=60_000)
            expect(page.locator('#endpoints tr[data-endpoint="default"] .delivered')).not_to_have_text("0")
            shown = [
                int(page.locator(f'#endpoints tr[data-endpoint="{e}"] .delivered').inner_text())
                for e in ("default", endpoint_id)
            ]
            assert sum(shown) <= len(receiver.accepted())  # the receiver got at least what the page says was delivered
            assert hook.locator(".failed").inner_text() == "0"
            screenshot = tmp_path / "operator-page.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"\noperator page screenshot: {screenshot}")

            page.locator("#people li", has_text="Alex Lacamoire").locator(".delete").click()
            expect(page.locator("#people .person-name")).to_have_text([LIN])
        finally:
            browser.close()
    assert not errors, errors
    assert urls and not [u for u in urls if TOKEN in u], "the token went into a URL"
    names = {r["name"] for r in service.get("/api/results?limit=1000").json()["results"]}
    assert LIN in names


def test_operator_page_says_how_many_cameras_wait(tmp_path: Path) -> None:
    """A node with room for none: every camera is kept and waits, and the page says so (no stream opened)."""
    node = ServiceProcess(tmp_path / "data", "--workers", "1", "--max-cameras", "0").start(120)
    try:
        for camera_id in ("door", "hall"):
            added = node.post("/api/cameras", json={"id": camera_id, "stream_url": f"rtsp://127.0.0.1:9/{camera_id}"})
            assert added.status_code == 201, added.text
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                assert page.goto(node.url + "/").status == 200
                page.fill("#token-input", node.token)  # closed by default: the page asks for the token
                page.click("#token-form button")
                expect(page.locator("#cameras-waiting")).to_be_visible()
                expect(page.locator("#cameras-waiting")).to_have_text(
                    "2 of 2 cameras waiting for a node with room (every node is full: 1 node x 0)"
                )
                waiting = page.locator('#cameras figure[data-camera="door"]')
                expect(waiting.locator(".state")).to_have_text("unassigned")
                expect(waiting.locator("img")).to_have_count(0)
            finally:
                browser.close()
    finally:
        assert node.stop() == 0, node.log()[-3000:]
