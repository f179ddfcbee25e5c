"""Closed by default: the admin token a start makes when none is configured, kept in the data dir.

With no `FACEGATE_API_TOKEN`, the first start makes a random token (`secrets.token_urlsafe`, 32
bytes), writes it to `<data dir>/admin_token` readable by its owner only (created 0600, never over
an existing file), and prints once where the operator page is and how to read the token. Later
starts read the same file. Only `FACEGATE_AUTH=off` (`--no-auth`) runs without any token.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from control.auth import token_list
from facegate.settings import SettingError

log = logging.getLogger("facegate")

TOKEN_FILE = "admin_token"
TOKEN_BYTES = 32


@dataclass(frozen=True)
class AdminToken:
    """The token the API takes as admin, the file it is kept in, and whether this start made it."""

    token: str
    path: Path
    made: bool


def _read(path: Path) -> str:
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s could be read by others; made it readable by its owner only", path)
        path.chmod(0o600)
    token = path.read_text(encoding="utf-8").strip()
    if not token or any(ch.isspace() or ch == "," for ch in token):
        raise SettingError(f"{path} holds no usable token: delete it to have a new one made, or set FACEGATE_API_TOKEN")
    return token


def load_or_make(data_dir: Path) -> AdminToken:
    """The token of `<data_dir>/admin_token`, made (0600) if the file does not exist yet."""
    path = Path(data_dir).resolve() / TOKEN_FILE
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return AdminToken(_read(path), path, made=False)
    except OSError as exc:
        raise SettingError(f"cannot write the admin token to {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return AdminToken(token, path, made=True)


def announce(admin: AdminToken, page_url: str) -> None:
    """Print, on the first start only, where the operator page is and how to read the token;
    later starts only log where it is kept."""
    if not admin.made:
        log.info("API: admin token from %s (FACEGATE_API_TOKEN overrides it)", admin.path)
        return
    print(
        "\n".join(
            (
                "",
                "facegate made an admin token, since no FACEGATE_API_TOKEN is set;",
                "every route but /api/health needs it.",
                f"  operator page: {page_url}",
                f"  the token:     cat {admin.path}",
                "  clients send it as 'Authorization: Bearer <token>' (FACEGATE_AUTH=off runs open instead)",
                "",
            )
        ),
        flush=True,
    )


@dataclass(frozen=True)
class Access:
    """The tokens to build the API with (None: FACEGATE_API_TOKEN / FACEGATE_READ_TOKEN; "": none, so open)
    and the token file this start uses, if any."""

    token: str | None
    read_token: str | None
    admin: AdminToken | None = None


def access(data_dir: Path, auth_on: bool) -> Access:
    """Open only when `auth_on` is false; else the configured tokens, or the data dir's admin token."""
    if not auth_on:
        if os.environ.get("FACEGATE_API_TOKEN") or os.environ.get("FACEGATE_READ_TOKEN"):
            log.warning("FACEGATE_AUTH=off: FACEGATE_API_TOKEN and FACEGATE_READ_TOKEN are ignored")
        return Access("", "")
    if token_list(os.environ.get("FACEGATE_API_TOKEN", "")):
        return Access(None, None)
    admin = load_or_make(data_dir)
    return Access(admin.token, None, admin)
