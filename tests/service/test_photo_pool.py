"""The API's photo pool end to end: a full pool is a 429 on every photo route, a dead worker a 503, then a new one.

One worker and no queue (FACEGATE_API_FACE_WORKERS=1, FACEGATE_API_FACE_QUEUE=0). The pool is held
full without a flood: the worker is stopped (SIGSTOP), so the one photo sent to it holds the only turn
for exactly as long as the test needs, and goes through once the worker is let go (SIGCONT).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.service_proc import ServiceProcess, children, poll_until

WORKER = "facegate: api-faces"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        tmp_path_factory.mktemp("photo_pool"), env={"FACEGATE_API_FACE_WORKERS": "1", "FACEGATE_API_FACE_QUEUE": "0"}
    )
    with service.serving():
        yield service


@pytest.fixture(scope="module")
def photo(faces: Path) -> bytes:
    return (faces / "obama_small.jpg").read_bytes()


def recognize(svc: ServiceProcess, photo: bytes, timeout: float = 120) -> requests.Response:
    return svc.post("/api/recognize", files={"image": ("face.jpg", photo, "image/jpeg")}, timeout=timeout)


def worker_pid(svc: ServiceProcess) -> int:
    [pid] = [pid for pid, title in children(svc.pid).items() if title.strip() == WORKER]
    return pid


def test_a_full_pool_answers_429_on_every_photo_route(svc: ServiceProcess, photo: bytes) -> None:
    assert recognize(svc, photo).status_code == 200  # the worker is up
    worker = worker_pid(svc)
    answers: list[int] = []
    os.kill(worker, signal.SIGSTOP)  # the next photo's job waits in it, holding the only turn
    holder = threading.Thread(target=lambda: answers.append(recognize(svc, photo).status_code))
    try:
        holder.start()

        def turned_away() -> bool:
            try:
                return recognize(svc, photo, timeout=5).status_code == 429 or 429 in answers
            except requests.Timeout:  # this one took the turn (the thread's photo is turned away)
                return 429 in answers

        assert poll_until(turned_away, 60), "no photo took the only turn"
        image = ("face.jpg", photo, "image/jpeg")
        for path, form, files in (
            ("/api/recognize", {}, {"image": image}),
            ("/api/register", {"name": "Barack Obama"}, {"image": image}),
            ("/api/verify", {}, {"image1": image, "image2": image}),
            ("/api/search", {}, {"image": image}),
        ):
            busy = svc.post(path, data=form, files=files, timeout=120)
            assert busy.status_code == 429, (path, busy.status_code, busy.text)
            assert int(busy.headers["Retry-After"]) >= 1 and "busy" in busy.json()["error"], path
        assert svc.get("/api/persons").json()["total"] == 0, "a refused registration stored nothing"
    finally:
        os.kill(worker, signal.SIGCONT)
        holder.join(120)
    assert poll_until(lambda: recognize(svc, photo).status_code == 200, 60), "the turn never came back"


def test_a_dead_worker_is_a_503_and_the_next_photo_gets_a_new_pool(svc: ServiceProcess, photo: bytes) -> None:
    assert recognize(svc, photo).status_code == 200
    worker = worker_pid(svc)
    os.kill(worker, signal.SIGKILL)
    assert poll_until(lambda: worker not in children(svc.pid), 30), "the worker did not die"
    broken = recognize(svc, photo)
    assert broken.status_code == 503 and broken.headers["Retry-After"] == "1", broken.text
    assert recognize(svc, photo).status_code == 200  # a new pool for the next photo
    assert worker_pid(svc) != worker
    assert "a face-detection process died; starting new ones" in svc.log()
