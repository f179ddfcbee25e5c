"""A throwaway PostgreSQL server for the tests and the store benchmark, from the system's binaries.

`initdb` refuses to run as root, and CI runs as root: then the cluster belongs to the
unprivileged `postgres` user and every server command runs through `runuser`. The server
listens on 127.0.0.1 only, on a free port, with its socket in its own temp dir; `stop()` shuts
it down and removes the dir. No binaries is an error, never a reason to skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from tests.support.webhook_receiver import free_port

SERVER_USER = "postgres"
INSTALL_HINT = "install the PostgreSQL server (Debian: apt-get install postgresql-15)"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or the server would not start; the message says which."""


def find_bindir() -> Path:
    """Where initdb/pg_ctl live: `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin."""
    candidates = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    raise PostgresUnavailable(f"no initdb/pg_ctl found (pg_config --bindir, /usr/lib/postgresql/*/bin): {INSTALL_HINT}")


class PostgresServer:
    """One cluster in a temp dir; `durable=False` (the tests) turns fsync off, the benchmark keeps it on."""

    def __init__(self, *, durable: bool = False) -> None:
        self.bindir = find_bindir()
        self.durable = durable
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="facegate-pg-"))
        self.datadir = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(f"running as root needs the {SERVER_USER!r} user: {INSTALL_HINT}") from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", SERVER_USER, "--"]

    def _run(self, *command: str, timeout: float = 120.0) -> None:
        done = subprocess.run([*self.as_user, *command], capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip()}\n"
                f"{self.server_log()[-2000:]}"
            )

    def server_log(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def start(self) -> PostgresServer:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.resume()
        return self

    def _pg_ctl(self, action: str) -> None:
        subprocess.run(
            [
                *self.as_user,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                action,
            ],
            capture_output=True,
            timeout=90,
            check=False,
        )

    def pause(self) -> None:
        """Stop the server but keep its data (a database restart, first half)."""
        self._pg_ctl("stop")

    def resume(self) -> None:
        """Start it again on the same port with the same data."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._pg_ctl("stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as connection:
            connection.execute(sql)

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        for _ in range(3):  # WITH (FORCE) ends sessions a test left open
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg.Error:
                time.sleep(0.5)
