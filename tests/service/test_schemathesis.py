"""Schemathesis against a running service: every check, the stateful phase included, zero failures.

The document must be exact enough to generate from: what it calls valid is accepted, what it calls
invalid gets a 4xx, every status code is documented, responses match their schemas, and links lead
from creating a person or a camera to the routes that need its id. tests/support/schemathesis.toml lists
the few per-operation settings, each with its reason, and gives every route that needs an id one that
exists: the data below is written into the store before the service starts (people from their photos,
results with their crops, unknown faces, visitors), so no operation is fuzzed against 404s only.

Each run draws a fresh seed and prints it; FACEGATE_SCHEMATHESIS_SEED=<seed> runs that one again.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from string import Template

import cv2
import numpy as np
import pytest

from facegate.crops import face_crop
from facegate.faces import load_rgb, locate_and_encode
from facegate.records import result_dict
from facegate.store import Store, iso_now, new_event_id
from facegate.store.results import Sighting
from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import copy_gallery

TOKEN = "schemathesis-token"
CONFIG = Path(__file__).resolve().parents[1] / "support" / "schemathesis.toml"
IDS = CONFIG.with_name("schemathesis_ids.toml")
# Never fuzzed: starting recognition would open fuzzed stream URLs (hosts beyond loopback), and an
# MJPEG stream never ends. Both are covered by the live tests.
EXCLUDED = r"^/api/start$|/stream\.mjpg$"
# Examples per operation and phase: with this many a second seed finds nothing the first did not
# (tried over several seeds), and the run stays within about two minutes on two cores.
MAX_EXAMPLES = 25
# The routes that delete or use up the row they are given: after the first example they meet 404s (and the
# default camera has no picture while recognition is off).
CONSUMING = {
    "DELETE /api/persons/{person_id}",
    "DELETE /api/persons/{person_id}/encodings/{encoding_id}",
    "DELETE /api/visitors/{visitor_id}",
    "POST /api/visitors/{visitor_id}/register",
    "POST /api/visitors/merge",
    "DELETE /api/unknown/{unknown_id}",
    "POST /api/unknown/{unknown_id}/register",
    "GET /api/cameras/{camera_id}/snapshot.jpg",
    "DELETE /api/webhooks/endpoints/{endpoint_id}",
}
SEED = int(os.environ.get("FACEGATE_SCHEMATHESIS_SEED") or random.SystemRandom().randrange(1, 2**31))


def _face(photo: Path) -> tuple[np.ndarray, bytes, tuple[int, int, int, int]]:
    """A photo's face: its encoding, a JPEG crop of it and its box."""
    rgb = load_rgb(photo)
    box, encoding = locate_and_encode(rgb)[0]
    return np.asarray(encoding), face_crop(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), box), box


def _plant(data_dir: Path, faces: Path) -> dict[str, str]:
    """Real rows for every kind of id a route takes: one to read and, where a route deletes or consumes
    one, another for that route; returned as the names tests/support/schemathesis_ids.toml takes."""
    store = Store(data_dir)
    people = {p["name"]: p["id"] for p in store.gallery.people()}
    biden, biden_crop, box = _face(faces / "biden.jpg")
    obama, obama_crop, _ = _face(faces / "obama.jpg")
    with_crops = store.gallery.register("Joe Biden", [biden, biden * 0.99], crops=[biden_crop, biden_crop])
    encodings = [e["id"] for e in store.gallery.encodings(with_crops)]
    ids = {
        "PERSON": people["Lin-Manuel Miranda"],
        "PERSON_GONE": store.gallery.register("Barack Obama", [obama]),
        "CROPS_PERSON": with_crops,
        "ENCODING": encodings[0],
        "ENCODING_GONE": encodings[1],
    }
    now = time.time()
    visitors, unknown = [], []
    for _ in range(3):  # read, deleted, registered
        visitor = store.visitors.create(now)
        store.visitors.offer_face(visitor, obama, obama_crop, 1.0)
        event_id = new_event_id()
        result = {**result_dict(iso_now(now), "Unknown", 1.0, box), "visitor_id": visitor}
        store.results.add(
            event_id, result, "cam0", "file:///door.mp4", None, sighting=Sighting(obama, obama_crop, visitor)
        )
        unknown.append(store.unknown.add(event_id, "cam0", now, box, obama_crop, obama))
        visitors.append(visitor)
    named = new_event_id()
    store.results.add(
        named,
        result_dict(iso_now(now), "Lin-Manuel Miranda", 0.4, box),
        "cam0",
        "file:///door.mp4",
        None,
        sighting=Sighting(biden, biden_crop, None),
    )
    ids.update(
        EVENT=event_id,
        EVENT_NAMED=named,
        VISITOR=visitors[0],
        VISITOR_GONE=visitors[1],
        VISITOR_REGISTERED=visitors[2],
        UNKNOWN=unknown[0],
        UNKNOWN_GONE=unknown[1],
        UNKNOWN_REGISTERED=unknown[2],
    )
    ids["VISITOR_FACE"] = store.visitors.get(visitors[0])["faces"][0]["id"]
    for key in ("MERGE_INTO", "MERGED"):  # one person seen twice: the merge route's pair
        ids[key] = store.visitors.create(now)
        store.visitors.offer_face(ids[key], obama, obama_crop, 1.0)
    for key in ("ENDPOINT", "ENDPOINT_GONE"):  # a webhook endpoint to read, change and test; one to delete
        ids[key] = store.endpoints.add({"url": "https://hooks.example.com/in", "filter": {"unknown": True}})["id"]
    store.close()
    return {key: str(value) for key, value in ids.items()}


@pytest.fixture(scope="module")
def planted(gallery_dir: Path, faces: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("schemathesis"))
    return data_dir, _plant(data_dir, faces)


@pytest.fixture(scope="module")
def service(planted: tuple[Path, dict[str, str]]) -> ServiceProcess:
    proc = ServiceProcess(planted[0], token=TOKEN)
    proc.start()
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.log()[-3000:]


def test_the_document_links_created_ids_to_the_routes_that_need_them(service: ServiceProcess) -> None:
    paths = service.get("/api/openapi.json").json()["paths"]
    created = paths["/api/register"]["post"]["responses"]["200"]["links"]
    assert {name: link["parameters"] for name, link in created.items()} == {
        op: {"person_id": "$response.body#/person_id"} for op in ("getPerson", "addPersonFace", "deletePerson")
    }
    camera = paths["/api/cameras"]["post"]["responses"]["201"]["links"]
    assert {link["parameters"]["camera_id"] for link in camera.values()} == {"$response.body#/camera/id"}
    assert set(camera) == {"updateCamera", "deleteCamera", "getCameraSnapshot"}
    operation_ids = {op["operationId"] for ops in paths.values() for op in ops.values()}
    assert set(created) | set(camera) <= operation_ids


def test_every_planted_id_is_real(service: ServiceProcess, planted: tuple[Path, dict[str, str]]) -> None:
    ids = planted[1]
    for path in (
        f"/api/persons/{ids['PERSON']}",
        f"/api/persons/{ids['PERSON_GONE']}",
        f"/api/persons/{ids['CROPS_PERSON']}/encodings/{ids['ENCODING']}.jpg",
        f"/api/persons/{ids['CROPS_PERSON']}/encodings/{ids['ENCODING_GONE']}.jpg",
        f"/api/results/{ids['EVENT']}/crop.jpg",
        f"/api/results/{ids['EVENT_NAMED']}/crop.jpg",
        *(f"/api/visitors/{ids[v]}" for v in ("VISITOR", "VISITOR_GONE", "VISITOR_REGISTERED", "MERGE_INTO", "MERGED")),
        f"/api/visitors/{ids['VISITOR']}/faces/{ids['VISITOR_FACE']}.jpg",
        *(f"/api/unknown/{ids[u]}.jpg" for u in ("UNKNOWN", "UNKNOWN_GONE", "UNKNOWN_REGISTERED")),
        *(f"/api/webhooks/endpoints/{ids[e]}" for e in ("ENDPOINT", "ENDPOINT_GONE")),
    ):
        assert service.get(path, token=TOKEN).status_code == 200, path


def schemathesis(service: ServiceProcess, config: Path, workdir: Path, *args: str) -> str:
    """Run Schemathesis (every check) with this module's seed; its output, after asserting that nothing failed."""
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        f"{service.url}/api/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--exclude-path-regex",
        EXCLUDED,
        "--report",
        "junit",
        "--report-dir",
        str(workdir),
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=workdir)
    output = done.stdout + done.stderr
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-4000:]
    print(summary)
    assert done.returncode == 0, f"seed {SEED}:\n{output[-12000:]}"
    return output


def missing_data(output: str) -> set[str]:
    """The operations Schemathesis' "Missing test data" warning lists (they kept answering 404)."""
    found: set[str] = set()
    for line in output.split("Missing test data", 1)[1].splitlines()[1:] if "Missing test data" in output else []:
        item = re.match(r"\s*- ([A-Z]+ \S+)", line)
        if item:
            found.add(item.group(1))
        elif found and line.strip():
            break
    return found


def test_schemathesis_finds_no_failure(
    service: ServiceProcess, planted: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """Twice: valid data only with the planted ids (a fixed id would turn a generated invalid one valid),
    then valid and invalid data with generated ids (which may delete planted rows: so second). The stateful
    phase runs in the second only: there each id comes from the response that created it, where a planted id
    would override it (a DELETE given the planted, already deleted endpoint instead of the one just made)."""
    print(f"schemathesis seed {SEED} (FACEGATE_SCHEMATHESIS_SEED={SEED} runs it again)")
    with_ids = tmp_path / "with_ids.toml"
    with_ids.write_text(CONFIG.read_text() + "\n" + Template(IDS.read_text()).substitute(planted[1]))
    output = schemathesis(
        service,
        with_ids,
        tmp_path,
        "--mode",
        "positive",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES // 2),
    )
    # only routes that delete or use up their row answer 404 once it is gone (and a camera with no frame yet)
    assert missing_data(output) <= CONSUMING, output
    ids = planted[1]  # the pair was merged with its real ids: the second is gone into the first
    assert service.get(f"/api/visitors/{ids['MERGED']}").status_code == 404
    assert service.get(f"/api/visitors/{ids['MERGE_INTO']}").status_code == 200
    output = schemathesis(service, CONFIG, tmp_path, "--max-examples", str(MAX_EXAMPLES))
    summary = output[output.rfind("SUMMARY") :]
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, f"{phase} phase did not run and pass:\n{summary}"
    assert "Traceback" not in service.log()
