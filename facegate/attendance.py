"""Attendance: per person per day, first in and last out, from the quarter-hour slots the store keeps.

A sighting of a person is counted in its camera's quarter hour (`slot_of`), in epoch seconds. Every
time zone in use is a whole number of quarter hours from UTC, so a day of any zone is a whole run of
slots: the `timezone` setting can change at any moment and the days follow, with nothing stored
again. The query's checks (`parse_range`) and the CSV are here too, without a database.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SLOT_S = 900.0  # a quarter hour
MAX_DAYS = 366  # days one request may span
DAY_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # YYYY-MM-DD, ASCII digits only (the API's schema says the same)
COLUMNS = ("date", "person_id", "name", "first_seen", "last_seen", "sightings", "cameras")


class AttendanceError(ValueError):
    """A query that cannot be answered; the message names the field."""


def slot_of(at: float) -> float:
    """The start of the quarter hour `at` (epoch s) falls in."""
    return at - at % SLOT_S


def parse_day(text: str | None, field: str) -> date:
    """A YYYY-MM-DD date given as `field`."""
    if not text:
        raise AttendanceError(f"{field} is required, as YYYY-MM-DD")
    try:
        if not re.fullmatch(DAY_PATTERN, text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise AttendanceError(f"{field} must be a date as YYYY-MM-DD") from None


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    """`from` and `to` (both included), `from` not after `to`, at most MAX_DAYS days."""
    first, last = parse_day(start, "from"), parse_day(end, "to")
    if first > last:
        raise AttendanceError("from must not be after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise AttendanceError(f"to must be at most {MAX_DAYS} days from from (both included)")
    return first, last


def day_start(day: date, zone: ZoneInfo) -> float:
    """Epoch seconds of the day's midnight in the zone."""
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()


def span(first: date, last: date, zone: ZoneInfo) -> tuple[float, float]:
    """[start, end) in epoch seconds of the days `first` to `last` in the zone."""
    return day_start(first, zone), day_start(last + timedelta(days=1), zone)


def local_iso(at: float, zone: ZoneInfo) -> str:
    """A moment as ISO-8601 in the zone, with its offset (what a spreadsheet of that place reads)."""
    return datetime.fromtimestamp(at, tz=zone).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Slot:
    """One stored quarter hour of a person on a camera."""

    person_id: int
    name: str
    camera_id: str
    slot: float
    first_seen: float
    last_seen: float
    sightings: int


def days(slots: Iterable[Slot], zone: ZoneInfo) -> list[dict[str, Any]]:
    """Per day (in the zone) per person: first and last sighting, sightings, cameras; by date, then name."""
    found: dict[tuple[date, int], dict[str, Any]] = {}
    for s in slots:
        key = (datetime.fromtimestamp(s.slot, tz=zone).date(), s.person_id)
        row = found.setdefault(key, {"name": s.name, "first": s.first_seen, "last": s.last_seen, "n": 0, "cams": set()})
        row["first"], row["last"] = min(row["first"], s.first_seen), max(row["last"], s.last_seen)
        row["n"] += s.sightings
        row["cams"].add(s.camera_id)
    return [
        {
            "date": day.isoformat(),
            "person_id": person_id,
            "name": row["name"],
            "first_seen": local_iso(row["first"], zone),
            "last_seen": local_iso(row["last"], zone),
            "sightings": row["n"],
            "cameras": sorted(row["cams"]),
        }
        for (day, person_id), row in sorted(found.items(), key=lambda item: (item[0][0], item[1]["name"]))
    ]


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV with a header row; a day's cameras are joined with spaces."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([" ".join(row[c]) if c == "cameras" else row[c] for c in COLUMNS])
    return out.getvalue()
