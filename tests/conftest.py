"""Fixtures shared by the suite: the real test data, a registered gallery, and leak checks."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import PostgresServer
from tests.testdata import data_dir

REPO = Path(__file__).resolve().parents[1]
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")


@pytest.fixture(scope="session")
def faces() -> Path:
    """The folder of real test images and the clip (checked against their SHA-256)."""
    return data_dir()


@pytest.fixture(scope="session")
def clip(faces: Path) -> Path:
    return faces / "short_hamilton_clip.mp4"


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240.0) -> subprocess.CompletedProcess:
    """Run `python supervisor.py ARGS` as a user would, and return what it printed."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", "FACEGATE_WEBHOOKS": "off", **(env or {})}
    return subprocess.run([sys.executable, "supervisor.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture(scope="session")
def gallery_dir(tmp_path_factory: pytest.TempPathFactory, faces: Path) -> Path:
    """A data dir with Lin-Manuel Miranda and Alex Lacamoire registered from their photos."""
    folder = tmp_path_factory.mktemp("gallery")
    for name, image in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")):
        done = cli("--data-dir", str(folder), "register", name, str(faces / image))
        assert done.returncode == 0, done.stderr
    return folder


def copy_gallery(source: Path, target: Path) -> Path:
    """A private copy of a registered data dir, so a test may change it."""
    import sqlite3

    target.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source / "facegate.db") as src, sqlite3.connect(target / "facegate.db") as dst:
        src.backup(dst)
    return target


def facegate_segments() -> list[str]:
    return sorted(p.name for p in Path("/dev/shm").glob("facegate-*"))


def facegate_processes() -> list[str]:
    """Command lines of running processes titled `facegate: ...`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("facegate:"):
            found.append(f"{proc.name} {cmdline.strip()}")
    return found


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (missing binaries fail the tests that need it)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database on that server, dropped after the test."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)
