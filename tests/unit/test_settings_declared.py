"""Each setting is declared once: its check, its typed field, its OpenAPI schema, its option and its README row agree.

The declarations are the fields of `Settings` (facegate/settings.py) and `Camera` (facegate/camera.py).
These tests hold every product of them together, setting by setting, so a new setting (or a changed
bound) cannot reach one door and miss another.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from control import openapi
from control.request_schema import to_json_schema
from entry import cli, options_table
from facegate.camera import Camera, camera_schema, check_camera
from facegate.setting_kinds import Cli, Lifetime, SettingError, declared, field_schema
from facegate.settings import ALIASES, SETTINGS, Settings, config_schema, env_name, from_environment, validate

ROOT = Path(__file__).resolve().parents[2]
NAMES = [f.name for f, _ in SETTINGS]


def _accepts_check(name: str, value: Any) -> bool:
    try:
        validate({name: value})
    except SettingError:
        return False
    return True


def _validator(schema: dict[str, Any]) -> jsonschema_rs.Draft4Validator:
    return jsonschema_rs.Draft4Validator(to_json_schema(schema, openapi.SCHEMAS))


@pytest.mark.parametrize("name", NAMES)
def test_the_check_and_the_schema_take_the_same_values(name: str) -> None:
    """For JSON values at and around each setting's bounds, the check and its OpenAPI schema agree."""
    item, spec = dict((f.name, (f, s)) for f, s in SETTINGS)[name]
    schema = _validator(field_schema(item, spec))
    differ = [v for v in spec.kind.samples() if _accepts_check(name, v) != schema.is_valid(v)]
    assert not differ, f"{name}: the check and the schema disagree on {differ}"


@pytest.mark.parametrize("name", [f.name for f, _ in declared(Camera)])
def test_a_cameras_fields_check_as_their_schema_says(name: str) -> None:
    base = {"id": "door", "stream_url": "rtsp://door.local/live"}
    spec = dict((f.name, s) for f, s in declared(Camera))[name]
    body = _validator(camera_schema())
    for value in spec.kind.samples():
        try:
            check_camera({**base, name: value})
            checked = True
        except SettingError:
            checked = False
        assert checked == body.is_valid({**base, name: value}), f"camera {name}={value!r}"


def _hint_matches(hint: Any, python_type: type, nullable: bool) -> bool:
    args = typing.get_args(hint)
    if nullable:
        return isinstance(hint, types.UnionType) and set(args) == {python_type, type(None)}
    return (typing.get_origin(hint) or hint) is python_type


@pytest.mark.parametrize("cls", [Settings, Camera])
def test_each_field_is_typed_as_its_kind_checks(cls: type) -> None:
    """The dataclass field's type is what the check returns (optional when the default is None)."""
    hints = typing.get_type_hints(cls)
    for item, spec in declared(cls):
        nullable = item.default is None
        assert _hint_matches(hints[item.name], spec.kind.python_type, nullable), (item.name, hints[item.name])


def test_each_default_passes_its_own_check() -> None:
    for item, spec in SETTINGS:
        if item.default is not None:
            assert validate({item.name: spec.kind.dump(item.default)})[item.name] == item.default, item.name


def test_the_config_body_is_every_live_setting_with_its_schema() -> None:
    live = {f.name for f, s in SETTINGS if s.lifetime is Lifetime.LIVE}
    body = config_schema()
    assert set(body["properties"]) == live | set(ALIASES)
    for item, spec in SETTINGS:
        if item.name in live:
            assert body["properties"][item.name] == field_schema(item, spec)
    assert openapi.CAMERA_BODY == camera_schema() == body["properties"]["cameras"]["items"]


def test_a_setting_that_is_not_live_is_refused_by_put_config() -> None:
    for item, spec in SETTINGS:
        if spec.lifetime is not Lifetime.LIVE:
            with pytest.raises(SettingError, match="only be changed at start"):
                validate({item.name: item.default}, runtime_only=True)


def _sample(name: str) -> tuple[Any, str]:
    """A good value of the setting, and that value as the command line or the environment would give it."""
    spec = dict((f.name, s) for f, s in SETTINGS)[name]
    good = [v for v in spec.kind.samples() if v is not None and _accepts_check(name, v)][-1]
    return good, json.dumps(good) if isinstance(good, list | bool) else str(good)


def test_the_command_line_has_an_option_for_each_declared_flag() -> None:
    parser = cli.build_parser()
    for item, spec in SETTINGS:
        flag = cli.flag(item.name)
        if spec.cli is Cli.NONE:
            with pytest.raises(SystemExit):
                parser.parse_args([flag, "1"])
            continue
        value, text = _sample(item.name)
        for command in (["serve"], ["register", "Ada", "a.jpg"], ["replay", "clip.mp4"]):
            if spec.cli is Cli.SERVE and command != ["serve"]:
                with pytest.raises(SystemExit):
                    parser.parse_args([*command, flag, text])
                continue
            args = parser.parse_args([*command, flag, text])
            assert getattr(args, item.name) == text
        assert cli.from_text(item.name, text) == validate({item.name: value})[item.name]


@pytest.mark.parametrize("name", NAMES)
def test_the_environment_takes_each_setting_as_text(name: str) -> None:
    value, text = _sample(name)
    assert from_environment({env_name(name): text}) == validate({name: value})


def test_the_readme_table_is_the_declared_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert options_table.table() in readme, "run: python -m entry.options_table --write README.md"
    assert options_table.replace_table(readme) == readme


def test_a_camera_round_trips_through_its_json_form() -> None:
    camera = check_camera({"id": "door", "stream_url": "rtsp://door.local/live", "detect_fps": 2})
    assert Camera.from_dict(camera.to_dict()) == camera
    assert camera.to_dict() == {
        "id": "door",
        "stream_url": "rtsp://door.local/live",
        "name": None,
        "enabled": True,
        "detect_fps": 2.0,
    }
    settings = Settings.of({"cameras": [camera.to_dict()]})
    assert settings.cameras == (camera,) and settings.as_dict()["cameras"] == [camera.to_dict()]


# The one camera-id rule: ASCII letters, digits, '.', '_' and '-', at every door.
NOT_ASCII = "cámara"


def test_a_camera_id_outside_ascii_is_refused_by_the_check_and_the_schema() -> None:
    with pytest.raises(SettingError, match="camera_id"):
        validate({"camera_id": NOT_ASCII})
    with pytest.raises(SettingError, match="camera_id"):
        check_camera({"id": NOT_ASCII, "stream_url": "0"})
    with pytest.raises(SettingError, match="camera_id"):
        from_environment({"FACEGATE_CAMERA_ID": NOT_ASCII})
    assert not _validator(camera_schema()).is_valid({"id": NOT_ASCII, "stream_url": "0"})
    assert not _validator(config_schema()).is_valid({"camera_id": NOT_ASCII})
    assert validate({"camera_id": "door.side_2-b"}) == {"camera_id": "door.side_2-b"}


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_camera_id_outside_ascii_ends_the_start(how: str, tmp_path: Path) -> None:
    argv = [sys.executable, str(ROOT / "supervisor.py"), "--data-dir", str(tmp_path)]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("FACEGATE_")}
    if how == "option":
        argv += ["--camera-id", NOT_ASCII]
    else:
        env["FACEGATE_CAMERA_ID"] = NOT_ASCII
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**env, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: camera_id must be"), done.stderr
