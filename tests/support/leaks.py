"""Leak checks scoped to this test session: its own supervisors' segments and its own processes.

Other test runs share the machine, so "no facegate segment in /dev/shm" or "no process titled
facegate:" would blame them for nothing (or blame us for them). Instead:

* every supervisor the suite starts is recorded here (`record`), and its segments are named
  `facegate-<its pid>-...`; the pytest process's own pid names the segments of in-process pipelines;
* every process the suite starts stays in pytest's session (stages leave the process group, never
  the session) and started after pytest did, so a leaked stage is known as ours even after its
  parent died. (An environment marker would not do: setproctitle overwrites /proc/<pid>/environ.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline.transport.shm import run_prefix

STARTED: list[int] = []  # pids of the supervisors this session started, in order


def record(pid: int) -> int:
    """Remember a supervisor (or any facegate process) this session started; returns the pid."""
    STARTED.append(pid)
    return pid


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], session [3], start [19])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


SESSION, STARTED_AT = int(_stat(os.getpid())[3]), int(_stat(os.getpid())[19])


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


def segments_of(pid: int) -> list[str]:
    """Shared-memory segments a supervisor with this pid created (`facegate-<pid>-...`)."""
    return sorted(p.name for p in Path("/dev/shm").glob(f"{run_prefix(pid)}*"))


def _parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _ours(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and int(fields[3]) == SESSION and int(fields[19]) >= STARTED_AT


def our_processes() -> dict[int, str]:
    """This session's running processes titled `facegate: ...`: pid → title."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if title.startswith("facegate:") and alive(pid) and _ours(pid):
            found[pid] = title
    return found


def orphans() -> dict[int, str]:
    """This session's facegate processes that outlived their owner.

    That is: a child of pytest itself that is not a supervisor it started (in-process pipelines are
    function-scoped fixtures, so their stages are gone after a test), or a process whose parent
    died and that was handed to a process outside this session (init). A stage under a live
    supervisor is not counted, nor a supervisor (`STARTED`): module-scoped services outlive a test
    on purpose and their fixtures check their exit. Another program run from the same shell
    session (its parent is alive and in the session) is not ours either."""
    ours = our_processes()
    found = {}
    for pid, title in ours.items():
        parent = _parent(pid)
        if pid in STARTED or parent in ours or parent is None:
            continue
        fields = _stat(parent)
        if parent == os.getpid() or not fields or int(fields[3]) != SESSION:
            found[pid] = title
    return found


def leaks_since(started_before: int, orphans_before: set[int], wait_s: float = 15.0) -> list[str]:
    """What the test leaked: orphaned processes and segments of its finished supervisors (bounded wait)."""
    deadline = time.monotonic() + wait_s
    while True:
        left = [f"process {pid} {title}" for pid, title in orphans().items() if pid not in orphans_before]
        owners = [pid for pid in STARTED[started_before:] if not alive(pid)]
        owners.append(os.getpid())  # in-process pipelines are gone once the test's own fixtures are
        left += [f"segment /dev/shm/{name}" for pid in owners for name in segments_of(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)
