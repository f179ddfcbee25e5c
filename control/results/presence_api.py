"""Who is here, over HTTP: presence now, the visits with their `left` events, and attendance per day (JSON or CSV).

Everything is read from the store (facegate/store/visits.py, attendance_slots.py), so every node of
a cluster answers the same; the match stage keeps it current while recognition runs. Attendance days
are days of the `timezone` setting; a day's row is its first and last sighting, how many sightings
(at most one every few seconds per camera) and on which cameras.
"""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo

import bottle

from control.declaration import Doc, Scope
from control.openapi import BOOLEAN, INTEGER, LIMIT, NULLABLE_STRING, NUMBER, STRING, error_answers, json_answer, obj
from control.service_api import ServiceApi
from control.validation import check_limit, digits, fail
from facegate.attendance import COLUMNS, DAY_PATTERN, MAX_DAYS, AttendanceError, days, parse_range, span, to_csv

MAX_ID = 10**12 - 1
CSV_TYPE = "text/csv; charset=utf-8"
SEEN = {"camera_id": STRING, "last_seen": STRING, "present": BOOLEAN}
PRESENCE = obj(
    {
        "people": {
            "type": "array",
            "items": obj({"person_id": INTEGER, "name": STRING, **SEEN}, ["person_id", "name", *SEEN]),
        },
        "visitors": {"type": "array", "items": obj({"visitor_id": INTEGER, **SEEN}, ["visitor_id", *SEEN])},
        "window_s": NUMBER,
    },
    ["people", "visitors", "window_s"],
)
NULLABLE_INTEGER = {"type": "integer", "nullable": True}
VISIT = obj(
    {
        "id": INTEGER,
        "person_id": NULLABLE_INTEGER,
        "name": STRING,
        "visitor_id": NULLABLE_INTEGER,
        "first_seen": STRING,
        "last_seen": STRING,
        "camera_id": STRING,
        "cameras": {"type": "array", "items": STRING},
        "sightings": INTEGER,
        "open": BOOLEAN,
        "left_event_id": NULLABLE_STRING,
        "left_at": NULLABLE_STRING,
    },
    ["id", "first_seen", "last_seen", "cameras", "open"],
)
DAY_ROW = obj(
    {
        "date": STRING,
        "person_id": INTEGER,
        "name": STRING,
        "first_seen": STRING,
        "last_seen": STRING,
        "sightings": INTEGER,
        "cameras": {"type": "array", "items": STRING},
    },
    list(COLUMNS),
)
ATTENDANCE = obj(
    {"days": {"type": "array", "items": DAY_ROW}, "from": STRING, "to": STRING, "timezone": STRING},
    ["days", "from", "to", "timezone"],
)
DAY_PARAMETER = {"type": "string", "format": "date", "pattern": DAY_PATTERN}
PERSON_PARAMETER = {"name": "person_id", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _flag(query: bottle.FormsDict, key: str) -> bool:
    text = query.get(key)
    if text is None:
        return False
    if text not in ("true", "false"):
        raise fail(400, f"{key} must be true or false")
    return bool(text == "true")


def _person_id(query: bottle.FormsDict) -> int | None:
    text = query.get("person_id")
    if text is None:
        return None
    if not digits(text) or not 1 <= int(text) <= MAX_ID:
        raise fail(400, f"person_id must be a whole number from 1 to {MAX_ID}")
    return int(text)


def _wants_csv(query: bottle.FormsDict) -> bool:
    wanted = query.get("format")
    if wanted is not None and wanted not in ("json", "csv"):
        raise fail(400, "format must be json or csv")
    if wanted is not None:
        return bool(wanted == "csv")
    accept = bottle.request.get_header("Accept", "") or ""
    return "text/csv" in accept.lower() and "application/json" not in accept.lower()


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the presence, visit and attendance routes to the API app."""
    store = service.store

    @app.get(
        "/api/presence",
        scope=Scope.READ,
        doc=Doc(
            "getPresence",
            "Who is present now (seen within presence_window_s), with the camera that saw them last;"
            " all=true adds everyone ever seen (within retention_days) with their last sighting",
            {"200": json_answer(PRESENCE), **error_answers(400)},
            parameters=({"name": "all", "in": "query", "schema": BOOLEAN},),
        ),
    )
    def presence() -> dict[str, Any]:
        everyone = _flag(bottle.request.query, "all")
        window = service.config().presence_window_s
        return {**store.visits.presence(window, time.time(), everyone), "window_s": window}

    @app.get(
        "/api/visits",
        scope=Scope.READ,
        doc=Doc(
            "listVisits",
            "Visits newest first: open ones, and ended ones with the id and time of their `left` event",
            {"200": json_answer(obj({"visits": {"type": "array", "items": VISIT}}, ["visits"])), **error_answers(400)},
            parameters=(LIMIT, PERSON_PARAMETER),
        ),
    )
    def visits() -> dict[str, Any]:
        query = bottle.request.query
        return {"visits": store.visits.recent(check_limit(query.get("limit"), 50), _person_id(query))}

    @app.get(
        "/api/attendance",
        scope=Scope.READ,
        doc=Doc(
            "getAttendance",
            f"Per person per day (days of the `timezone` setting, at most {MAX_DAYS}): first and last sighting,"
            " sightings and cameras; format=csv (or Accept: text/csv) answers CSV with a header row",
            {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": ATTENDANCE}, "text/csv": {"schema": STRING}},
                },
                **error_answers(400),
            },
            parameters=(
                {"name": "from", "in": "query", "required": True, "schema": DAY_PARAMETER},
                {"name": "to", "in": "query", "required": True, "schema": DAY_PARAMETER},
                PERSON_PARAMETER,
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
            ),
        ),
    )
    def attendance() -> dict[str, Any] | str:
        query = bottle.request.query
        try:
            first, last = parse_range(query.get("from"), query.get("to"))
        except AttendanceError as exc:
            raise fail(400, str(exc)) from None
        person_id, as_csv = _person_id(query), _wants_csv(query)
        timezone = service.config().timezone
        zone = ZoneInfo(timezone)
        rows = days(store.attendance.slots(*span(first, last, zone), person_id), zone)
        if as_csv:
            bottle.response.content_type = CSV_TYPE
            bottle.response.set_header("Content-Disposition", f'attachment; filename="attendance-{first}-{last}.csv"')
            return to_csv(rows)
        return {"days": rows, "from": first.isoformat(), "to": last.isoformat(), "timezone": timezone}
