"""Named shared-memory segments whose lifetime the supervisor owns, outside Python's resource tracker.

On Python 3.11 `multiprocessing.shared_memory.SharedMemory` registers even a segment it only
*attaches* to with the resource tracker, which then unlinks it or warns of a leak when that
process exits (CPython issue 82300). Here only the creator unlinks, explicitly, and attachers
never register. Names carry `facegate-<supervisor pid>-` so a later start can find and remove
what a killed run left behind.
"""

from __future__ import annotations

import _posixshmem
import logging
import mmap
import os
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "facegate-"
SHM_DIR = Path("/dev/shm")


class Segment:
    """A mapped shared-memory segment; `create=True` makes it, otherwise attaches to an existing one."""

    def __init__(self, name: str, size: int = 0, *, create: bool = False) -> None:
        self.name = name
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = _posixshmem.shm_open("/" + name, flags, mode=0o600)
        try:
            if create:
                os.ftruncate(fd, size)
            else:
                size = os.fstat(fd).st_size
            self.size = size
            self.mmap = mmap.mmap(fd, size)
        except BaseException:
            if create:
                _posixshmem.shm_unlink("/" + name)
            raise
        finally:
            os.close(fd)
        self.buf = memoryview(self.mmap)
        self.owner = create

    def close(self) -> None:
        """Unmap; views into the buffer must be gone by now (numpy arrays keep it exported)."""
        try:
            self.buf.release()
            self.mmap.close()
        except (BufferError, ValueError):
            log.debug("segment %s still has views; leaving the mapping to process exit", self.name)

    def unlink(self) -> None:
        try:
            _posixshmem.shm_unlink("/" + self.name)
        except FileNotFoundError:
            pass


def run_prefix(pid: int | None = None) -> str:
    return f"{PREFIX}{os.getpid() if pid is None else pid}-"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a segment's or a node's owner)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers() -> list[str]:
    """Unlink segments of earlier runs whose supervisor is dead; returns their names.

    A live owner keeps its segments: one whose command line names facegate, and any process that still
    maps the segment (a pipeline run inside another program, as the tests run it: its command line is
    pytest's, and unlinking its rings under it made its detect workers lose every frame of a camera
    they had not yet attached to). A live pid that neither names facegate nor maps the segment is a
    dead run's pid taken by another program."""
    removed: list[str] = []
    if not SHM_DIR.is_dir():
        return removed
    for path in SHM_DIR.glob(PREFIX + "*"):
        pid_text = path.name[len(PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        pid = int(pid_text)
        if pid_alive(pid) and (_is_facegate(pid) or _maps(pid, path)):
            continue
        try:
            path.unlink()
            removed.append(path.name)
        except OSError as exc:
            log.warning("cannot remove leftover segment %s: %s", path.name, exc)
    return removed


def _maps(pid: int, path: Path) -> bool:
    """Whether process `pid` has the file at `path` mapped (its /proc maps; unreadable: assume it does)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return True
    return f" {path}\n" in maps


def _is_facegate(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # cannot tell: leave it alone
    return b"facegate" in cmdline or b"supervisor" in cmdline
