"""`python supervisor.py ARGS` run to completion as a user would, and private copies of a registered data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.fixtures import copy_data_dir
from tests.support import leaks
from tests.support.service_proc import REPO


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240.0) -> subprocess.CompletedProcess:
    """Run `python supervisor.py ARGS` as a user would, and return what it printed (`.pid` is its pid)."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", "FACEGATE_WEBHOOKS": "off", **(env or {})}
    with subprocess.Popen(
        [sys.executable, "supervisor.py", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    ) as proc:
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


def copy_gallery(source: Path, target: Path) -> Path:
    """A private copy of a registered data dir, so a test may change it."""
    return copy_data_dir(source, target)
