"""Where the real test images and clip come from: never committed, always checked.

Order: $FACEGATE_TEST_DATA, then ../shared/data/faces beside the checkout, then a cache
(~/.cache/facegate-test-data) filled once from the pinned upstream commit, each file checked
against its SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

UPSTREAM_COMMIT = "2e2dccea9dd0ce730c8d464d0f67c6eebb40c9d1"
UPSTREAM_RAW = "https://raw.githubusercontent.com/ageitgey/face_recognition/" + UPSTREAM_COMMIT + "/"

FILES: dict[str, tuple[str, str]] = {
    "32bit.png": ("tests/test_images/32bit.png", "44dca895a7d635a4aedddd91a4f37af9a8a5b44e66154282a24645a757b5f627"),
    "alex-lacamoire.png": (
        "examples/alex-lacamoire.png",
        "affd4bba70510b20286c5b392e6a73ef149f4dff02105a09e19ce80d7d138707",
    ),
    "biden.jpg": ("examples/biden.jpg", "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c"),
    "lin-manuel-miranda.png": (
        "examples/lin-manuel-miranda.png",
        "1f29c132951d7741431b32aaaf569d79a11bc690b04b843f12b7e306f080599a",
    ),
    "obama-1080p.jpg": ("examples/obama-1080p.jpg", "7f4554fa0e4cceea0cb74b72cbf990c25cac681504f6477cbfacb9ad3466bae8"),
    "obama-480p.jpg": ("examples/obama-480p.jpg", "55fc3ee1c2affe97b6451af4743c200d96d94d52309ae6413e28da79dcd890c0"),
    "obama-720p.jpg": ("examples/obama-720p.jpg", "4a95b996710ae9cb39971f9ee9001b670c7ab7babe53d39f10483da1d6b31453"),
    "obama.jpg": ("examples/obama.jpg", "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6"),
    "obama2.jpg": ("examples/obama2.jpg", "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6"),
    "obama3.jpg": ("tests/test_images/obama3.jpg", "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3"),
    "obama_partial_face.jpg": (
        "tests/test_images/obama_partial_face.jpg",
        "c2d1f09e7ef3042352b41e41286e6eb0522f64f88308be13886991b95db52117",
    ),
    "obama_small.jpg": ("examples/obama_small.jpg", "a17d127a14c9bd57ef79ce5e89a7b4003b641ef98c2e17be4e1acbb049d6eb24"),
    "short_hamilton_clip.mp4": (
        "examples/short_hamilton_clip.mp4",
        "0b5ff4c55a4cd69f79956f312681730881fe1e2a9e6146e75c31636dffcc7e28",
    ),
    "two_people.jpg": ("examples/two_people.jpg", "536b29cd513fb618e4d5aa79d51a279948daa804ce359463449cce5f9dc68aa7"),
}

CLIP = "short_hamilton_clip.mp4"
CLIP_FRAMES = 275
CLIP_SIZE = (640, 360)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def _download_into(cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    for name, (upstream_path, expected) in FILES.items():
        target = cache / name
        if target.is_file() and sha256(target) == expected:
            continue
        partial = target.with_suffix(target.suffix + ".part")
        with urllib.request.urlopen(UPSTREAM_RAW + upstream_path, timeout=60) as response:
            partial.write_bytes(response.read())
        if sha256(partial) != expected:
            partial.unlink()
            raise RuntimeError(f"{name}: downloaded file does not match its pinned SHA-256")
        partial.replace(target)


def data_dir() -> Path:
    """The folder holding every test file, each verified against its SHA-256."""
    candidates = []
    if os.environ.get("FACEGATE_TEST_DATA"):
        candidates.append(Path(os.environ["FACEGATE_TEST_DATA"]))
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data" / "faces")
    folder = next((c for c in candidates if _complete(c)), None)
    if folder is None:
        folder = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "facegate-test-data"
        if not _complete(folder):
            _download_into(folder)
    for name, (_, expected) in FILES.items():
        if sha256(folder / name) != expected:
            raise RuntimeError(f"{folder / name} does not match its pinned SHA-256")
    return folder
