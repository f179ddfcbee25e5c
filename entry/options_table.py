"""The README's table of options and settings, made from their declarations.

`python -m entry.options_table` prints the table; `--write README.md` puts it in place, between
the table's opening comment and the next blank line. tests/unit/test_settings_declared.py checks the
README holds exactly this table, so the README follows the declarations.
"""

from __future__ import annotations

import sys
from pathlib import Path

from entry.cli import PLAIN_OPTIONS, flag
from facegate.setting_kinds import Cli, Lifetime
from facegate.settings import SETTINGS, env_name, shown_default

MARK = "<!-- the options table: python -m entry.options_table --write README.md -->"
HEADER = ("| option | env | default | takes | applies | meaning |", "|---|---|---|---|---|---|")
APPLIES = {Lifetime.LIVE: "live", Lifetime.START: "at start", Lifetime.PROCESS: "this process"}


def _code(text: str) -> str:
    return f"`{text}`"


def rows() -> list[str]:
    """One row per plain option, then one per setting in its declared order."""
    found = [
        f"| {_code(flag(o.name))} | {_code(o.env)} | {_code(o.default) if o.default else 'none'} |  "
        f"| this process | {o.help} |"
        for o in PLAIN_OPTIONS
    ]
    for item, spec in SETTINGS:
        option = _code(flag(item.name)) if spec.cli is not Cli.NONE else ""
        default = shown_default(item, spec)
        default = default if default in ("none", spec.shown_default) else _code(default)
        applies = APPLIES[spec.lifetime] + (", per camera" if spec.per_camera else "")
        cells = (option, _code(env_name(item.name)), default, spec.kind.takes(), applies, spec.help)
        found.append("| " + " | ".join(cells) + " |")
    return found


def table() -> str:
    """The marked table as the README holds it."""
    return "\n".join([MARK, *HEADER, *rows()])


def replace_table(text: str) -> str:
    """`text` (a README) with its marked table replaced by the current one."""
    start = text.index(MARK)
    end = text.find("\n\n", start)
    return text[:start] + table() + (text[end:] if end >= 0 else "\n")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        path = Path(argv[1])
        path.write_text(replace_table(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
