"""Fixtures shared by the suite: the real test data, a registered gallery, and a leak check after every test.

The leak check (`no_leaks`, autouse) fails a test that leaves behind a process or a shared-memory
segment of its own: an orphaned `facegate:` process of this session, or a segment of a supervisor
the test started and that has exited (see tests/leaks.py for how "its own" is told apart from
other runs on the same machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.fixtures import copy_data_dir
from tests import leaks
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


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """After the test (and its own fixtures' teardown): none of its processes or segments is left."""
    started_before, orphans_before = len(leaks.STARTED), set(leaks.orphans())
    yield
    left = leaks.leaks_since(started_before, orphans_before)
    assert not left, f"left behind by this test: {left}"


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240.0) -> subprocess.CompletedProcess:
    """Run `python supervisor.py ARGS` as a user would, and return what it printed (`.pid` is its pid)."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", "FACEGATE_WEBHOOKS": "off", **(env or {})}
    with subprocess.Popen([sys.executable, "supervisor.py", *args], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=full_env) as proc:
        leaks.record(proc.pid)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    done.pid = proc.pid  # type: ignore[attr-defined]
    return done


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
    return copy_data_dir(source, target)


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
