"""Fixtures shared by the suite: the real test data, a registered gallery, and a leak check after every test.

The leak check (`no_leaks`, autouse) fails a test that leaves behind a process or a shared-memory
segment of its own: an orphaned `facegate:` process of this session, or a segment of a supervisor
the test started and that has exited (see tests/support/leaks.py for how "its own" is told apart from
other runs on the same machine).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import leaks
from tests.support.pgserver import PostgresServer
from tests.support.supervisor_cli import cli
from tests.support.testdata import data_dir

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


@pytest.fixture(scope="session")
def gallery_dir(tmp_path_factory: pytest.TempPathFactory, faces: Path) -> Path:
    """A data dir with Lin-Manuel Miranda and Alex Lacamoire registered from their photos."""
    folder = tmp_path_factory.mktemp("gallery")
    for name, image in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")):
        done = cli("--data-dir", str(folder), "register", name, str(faces / image))
        assert done.returncode == 0, done.stderr
    return folder


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
