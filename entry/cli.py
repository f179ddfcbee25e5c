"""The command line: `supervisor.py [serve]`, `register NAME IMAGE...`, `replay VIDEO`.

Options work before or after the command, and every recognition setting can also come from a
FACEGATE_<NAME> environment variable. Bad input ends with one line on stderr and a non-zero
exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setproctitle import setproctitle

from facegate import __version__
from facegate.camera_settings import stored_settings
from facegate.db.engine import ENV_DATABASE_URL
from facegate.faces import FaceImageError
from facegate.logsetup import setup_logging
from facegate.setting_kinds import Cli
from facegate.settings import (
    SETTINGS,
    SettingError,
    Settings,
    defaults,
    env_name,
    from_environment,
    from_text,
    shown_default,
    validate,
)
from facegate.store import Store, StoreError

log = logging.getLogger("facegate")


@dataclass(frozen=True)
class PlainOption:
    """A command-line option that is not a setting (where the store is, where the API listens, how much to log)."""

    name: str
    default: str
    help: str
    cli: Cli
    switch: tuple[str, str] | None = None  # a flag that sets a value: ("--no-auth", "off")

    @property
    def env(self) -> str:
        return env_name(self.name)


PLAIN_OPTIONS = (
    PlainOption(
        "data_dir",
        "./data",
        "SQLite store (WAL): people, encodings, results, webhook outbox, runtime config",
        Cli.EVERY,
    ),
    PlainOption("host", "0.0.0.0", "the API's address", Cli.SERVE),
    PlainOption("port", "5001", "the API's port", Cli.SERVE),
    PlainOption("log_level", "INFO", "DEBUG, INFO, WARNING or ERROR", Cli.EVERY),
    PlainOption(
        "auth",
        "on",
        "`on`: every route but /api/health needs a token (with no FACEGATE_API_TOKEN, one is"
        " made in the data dir's admin_token); `off` (or `--no-auth`): every route open to anyone",
        Cli.SERVE,
        switch=("--no-auth", "off"),
    ),
    PlainOption(
        "allowed_hosts",
        "",
        "the Host names the API answers to, a comma list (`*`: any); empty: localhost,"
        " 127.0.0.1, ::1, the bind address, this machine's names and addresses, FACEGATE_ADVERTISE_URL's host",
        Cli.SERVE,
    ),
)
PLAIN = {o.name: o for o in PLAIN_OPTIONS}
# The settings the command line takes (Spec.cli), by their name.
SETTING_FLAGS = tuple(f.name for f, spec in SETTINGS if spec.cli is not Cli.NONE)


def flag(name: str) -> str:
    """A setting's or an option's command-line flag: --stream-url for stream_url."""
    return "--" + name.replace("_", "-")


def _add_options(parser: argparse.ArgumentParser, *, after_command: bool, serve: bool) -> None:
    """The options of a command, made from the settings' declarations and PLAIN_OPTIONS. After the command
    they default to 'not given' so they never undo the same option given before it."""
    default = argparse.SUPPRESS if after_command else None
    places = (Cli.EVERY, Cli.SERVE) if serve else (Cli.EVERY,)
    for option in PLAIN_OPTIONS:
        if option.cli in places:
            shown = f"{option.help} (default {option.default or 'none'})".replace("%", "%%")
            parser.add_argument(flag(option.name), default=default, help=shown)
            if option.switch is not None:
                parser.add_argument(
                    option.switch[0],
                    dest=option.name,
                    action="store_const",
                    const=option.switch[1],
                    default=default,
                    help=f"the same as {flag(option.name)} {option.switch[1]}",
                )
    for item, spec in SETTINGS:
        if spec.cli in places:
            parser.add_argument(
                flag(item.name),
                default=default,
                help=f"{spec.help.replace('%', '%%')} (default {shown_default(item, spec)})",
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supervisor.py", description="facegate: real-time face recognition")
    parser.add_argument("--version", action="version", version=f"facegate {__version__}")
    _add_options(parser, after_command=False, serve=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the API and run recognition (the default)")
    _add_options(serve, after_command=True, serve=True)

    register = commands.add_parser("register", help="add a person from photos (one face each)")
    register.add_argument("name")
    register.add_argument("images", nargs="+", metavar="IMAGE")
    _add_options(register, after_command=True, serve=False)

    replay = commands.add_parser("replay", help="run every frame of a video through the pipeline")
    replay.add_argument("video")
    replay.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    replay.add_argument("--trace", metavar="FILE", help="write one JSON line per frame: boxes, names, distances")
    replay.add_argument("--pace", action="store_true", help="play at the file's own frame rate, like a camera")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    _add_options(replay, after_command=True, serve=False)
    return parser


def option(args: argparse.Namespace, name: str) -> str:
    """A plain option: from the command line, else its FACEGATE_<NAME> variable, else its default."""
    value = getattr(args, name, None)
    if value is None:
        value = os.environ.get(PLAIN[name].env)
    return PLAIN[name].default if value is None else str(value)


def is_writable(directory: Path) -> bool:
    """Whether a file can be created in it: by trying, since root passes os.access everywhere."""
    try:
        tempfile.TemporaryFile(dir=directory).close()
    except OSError:
        return False
    return True


def use_database(url: str) -> None:
    """Check the database URL (the SETTINGS row) and hand it on: every stage process opens its store from it."""
    os.environ[ENV_DATABASE_URL] = validate({"database_url": url})["database_url"] or ""


def open_store(data_dir: str) -> Store:
    """The store, after checking the data dir is writable and importing a v1 `encodings.npy` + `labels.json` once."""
    path = Path(data_dir)
    if path.exists() and not path.is_dir():
        raise StoreError(f"data dir {path} is not a directory")
    if path.exists() and not is_writable(path):
        raise StoreError(f"data dir {path} is not writable")
    store = Store(path)
    log.log(logging.DEBUG if store.path else logging.INFO, "store: %s", store.describe())  # SQLite: as ever
    encodings, labels = path / "encodings.npy", path / "labels.json"
    if encodings.is_file() and labels.is_file() and not store.core.get_meta("legacy_imported"):
        try:
            count = store.gallery.import_legacy(encodings, labels)
        except (ValueError, OSError) as exc:
            raise StoreError(f"cannot import {encodings.name} + {labels.name}: {exc}") from None
        log.info("imported %d encodings from the v1 files %s + %s", count, encodings.name, labels.name)
    return store


def resolve_settings(args: argparse.Namespace, store: Store) -> tuple[Settings, dict[str, Any]]:
    """(effective settings, the part given now on the command line or in the environment)."""
    given = from_environment()
    given.update({k: from_text(k, getattr(args, k)) for k in SETTING_FLAGS if getattr(args, k, None) is not None})
    effective = defaults()
    effective.update(validate(stored_settings(store)))
    effective.update(given)
    effective["node_id"] = effective["node_id"] or default_node_id()
    return Settings.of(effective), given


def default_node_id() -> str:
    """Host name and pid: unique among the live nodes, new for each start."""
    return f"{socket.gethostname()}-{os.getpid()}"


def cmd_register(args: argparse.Namespace, store: Store, settings: Settings) -> int:
    """Every photo is judged as the API judges it (facegate/enrollment.py); one refused photo stores none."""
    import numpy as np

    from facegate.encoder import use
    from facegate.enrollment import EnrollmentRules, Submitted, judge_all
    from facegate.records import ENCODING_SIZE, person_name

    try:
        name = person_name(args.name)
    except ValueError as exc:
        raise SettingError(f"NAME: {exc}") from None
    submitted = []
    for image in args.images:
        try:
            submitted.append(Submitted(image, photo=Path(image).read_bytes()))
        except FileNotFoundError:
            raise FaceImageError(f"{image}: no such file") from None
        except IsADirectoryError:
            raise FaceImageError(f"{image}: is a directory, not an image") from None
        except OSError as exc:
            raise FaceImageError(f"{image}: cannot be read: {exc.strerror or exc}") from None
    use(settings.encoder)
    known = next((p["id"] for p in store.gallery.people() if p["name"] == name), None)
    existing = store.gallery.person_vectors(known) if known is not None else np.zeros((0, ENCODING_SIZE))
    verdicts = judge_all(submitted, EnrollmentRules(min_face_px=settings.min_face_px), existing, model=settings.model)
    refused = next((v for v in verdicts if not v.accepted), None)
    if refused is not None:
        stored = "; nothing was stored" if len(verdicts) > 1 else ""
        raise FaceImageError(f"{refused.label}: {refused.message}{stored}")
    faces = [v.face for v in verdicts if v.face is not None]
    person_id = store.gallery.register(name, [f.encoding for f in faces], crops=[f.crop for f in faces])
    print(
        f"registered {name!r} (person {person_id}) from {len(faces)} photo(s); "
        f"{store.gallery.count_people()} people known"
    )
    return 0


def cmd_replay(args: argparse.Namespace, store: Store, settings: Settings) -> int:
    from entry.replay import print_report, run_replay

    store.close()
    report = run_replay(
        args.video,
        args.data_dir,
        settings,
        trace=args.trace,
        pace=args.pace,
        progress=not (args.no_progress or args.json),
        log_level=args.log_level,
    )
    print_report(report, args.json)
    return 0


def cmd_serve(args: argparse.Namespace, store: Store, settings: Settings, given: dict[str, Any]) -> int:
    from entry.serve import serve

    host = option(args, "host")
    try:
        port = int(option(args, "port"))
    except ValueError:
        raise SettingError(f"--port {option(args, 'port')} is not a port number") from None
    auth = option(args, "auth").strip().lower()
    if auth not in ("on", "off"):
        raise SettingError(f"--auth {auth} is not on or off")
    return serve(
        store,
        settings,
        given,
        host=host,
        port=port,
        log_level=args.log_level,
        auth_on=auth == "on",
        allowed_hosts=option(args, "allowed_hosts"),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.data_dir = option(args, "data_dir")
    args.log_level = option(args, "log_level").upper()
    if args.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        print(f"error: --log-level {args.log_level} is not DEBUG, INFO, WARNING or ERROR", file=sys.stderr)
        return 2
    command = args.command or "serve"
    setproctitle(f"facegate: {'supervisor' if command == 'serve' else command}")
    multiprocessing.current_process().name = "supervisor"
    setup_logging(args.log_level)
    from entry.replay import ReplayError
    from pipeline.detectors.factory import check_model_files
    from pipeline.detectors.locator import ModelFileError

    try:
        use_database(getattr(args, "database_url", None) or os.environ.get(ENV_DATABASE_URL, ""))
        store = open_store(args.data_dir)
        settings, given = resolve_settings(args, store)
        if args.command == "register":
            return cmd_register(args, store, settings)
        check_model_files(settings)  # a bad model file is one line now, not a stage restarting forever
        if args.command == "replay":
            return cmd_replay(args, store, settings)
        return cmd_serve(args, store, settings, given)
    except (SettingError, StoreError, FaceImageError, ReplayError, ModelFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
