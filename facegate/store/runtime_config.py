"""The store's runtime config: the settings changed through the API (`PUT /api/config`, cameras), shared by nodes.

Reached as `store.config`. Each key holds a JSON value; what the keys mean and how values are
checked is facegate/settings.py's job. A write bumps `config_version`, which every node watches.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from facegate.db.schema import config
from facegate.store.core import CONFIG_VERSION, StoreCore


class ConfigRecords:
    """Setting name -> its value, as last written through the API."""

    def __init__(self, core: StoreCore) -> None:
        self.core = core

    def version(self) -> int:
        """Moves whenever a value is written."""
        return self.core.version(CONFIG_VERSION)

    def read(self) -> dict[str, Any]:
        """Every stored setting and its value."""
        return {row.key: json.loads(row.value) for row in self.core.rows(sa.select(config.c.key, config.c.value))}

    def update(self, updates: dict[str, Any]) -> None:
        """Write these settings (the others keep their values)."""
        if not updates:
            return
        with self.core.transaction() as db:
            rows = [{"key": key, "value": json.dumps(value)} for key, value in updates.items()]
            db.execute(self.core.upsert(config), rows)
            self.core.bump(db, CONFIG_VERSION)
