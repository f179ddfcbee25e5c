"""A webhook endpoint's rules: which events it asks for, checked when it is written and for every event.

An endpoint names the event types it takes (`events`: `appeared`, `left`) and a `filter`, every
part of which must hold for an event to be sent:
- `persons`: person ids; a known face is sent only if its person is listed.
- `known`, `unknown`: which kinds of face are sent. Neither given: both (only known ones when
  `persons` is given); one given alone, the other is its opposite (`{"unknown": true}` and
  `{"known": false}` both mean strangers only); not both false.
- `cameras`: camera ids; the event must have been seen on one of them.
- `hours`: `{"from": "22:00", "to": "06:00"}`, local time in the `timezone` setting, `from`
  included, `to` not; `from` after `to` crosses midnight; the same time for both is the whole day.
- `min_confidence`: 0..1; an event without a confidence (`left`) is not held back by it.
`clean_endpoint` checks what a client sends (EndpointError naming the field); `matches` is the
check made for each event as it is stored (facegate/store/endpoints.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from facegate.events import APPEARED, EVENT_TYPES, OutgoingEvent
from facegate.webhook_urls import EndpointError, check_url

MAX_DESCRIPTION = 500
MAX_LISTED = 1000  # persons or cameras in one filter
MAX_SECRET = 256
MIN_SECRET = 16
FIELDS = ("url", "description", "enabled", "secret", "events", "filter")
FILTER_FIELDS = ("persons", "known", "unknown", "cameras", "hours", "min_confidence")
HOUR = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
SECRET_TEXT = re.compile(rf"[\x20-\x7e]{{{MIN_SECRET},{MAX_SECRET}}}")


@dataclass(frozen=True)
class Rules:
    """An endpoint's event types and filter, as stored (both checked by `clean_endpoint`)."""

    events: tuple[str, ...]
    filter: Mapping[str, Any]


def _minute(value: Any, name: str) -> int:
    """ "HH:MM" as minutes after midnight, or EndpointError naming `name`."""
    found = HOUR.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise EndpointError(f"{name} must be a time of day HH:MM from 00:00 to 23:59, not {value!r}")
    return int(found.group(1)) * 60 + int(found.group(2))


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise EndpointError(f"{name} must be true or false")
    return value


def _ids(value: Any, name: str, kind: type) -> list[Any]:
    if not isinstance(value, list) or len(value) > MAX_LISTED:
        raise EndpointError(f"{name} must be a list of at most {MAX_LISTED} ids")
    if kind is int and not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise EndpointError(f"{name} must hold person ids (positive integers)")
    if kind is str and not all(isinstance(v, str) and 0 < len(v) <= 128 for v in value):
        raise EndpointError(f"{name} must hold camera ids (strings)")
    return sorted(set(value), key=value.index)


def clean_filter(value: Any) -> dict[str, Any]:
    """A filter as stored, or EndpointError naming the faulty field (`filter.hours.from`, ...)."""
    if not isinstance(value, dict):
        raise EndpointError("filter must be an object")
    unknown_keys = sorted(set(value) - set(FILTER_FIELDS))
    if unknown_keys:
        raise EndpointError(f"filter.{unknown_keys[0]} is not a filter (filter takes {', '.join(FILTER_FIELDS)})")
    cleaned: dict[str, Any] = {}
    if "persons" in value:
        cleaned["persons"] = _ids(value["persons"], "filter.persons", int)
    if "cameras" in value:
        cleaned["cameras"] = _ids(value["cameras"], "filter.cameras", str)
    for kind in ("known", "unknown"):
        if kind in value:
            cleaned[kind] = _flag(value[kind], f"filter.{kind}")
    if cleaned.get("known") is False and cleaned.get("unknown") is False:
        raise EndpointError("filter.known and filter.unknown are both false: no event would be sent")
    if "hours" in value:
        hours = value["hours"]
        if not isinstance(hours, dict) or set(hours) != {"from", "to"}:
            raise EndpointError('filter.hours must be {"from": "HH:MM", "to": "HH:MM"}')
        _minute(hours["from"], "filter.hours.from")
        _minute(hours["to"], "filter.hours.to")
        cleaned["hours"] = {"from": hours["from"], "to": hours["to"]}
    if "min_confidence" in value:
        least = value["min_confidence"]
        if isinstance(least, bool) or not isinstance(least, int | float) or not 0.0 <= least <= 1.0:
            raise EndpointError("filter.min_confidence must be a number from 0 to 1")
        cleaned["min_confidence"] = float(least)
    return cleaned


def clean_events(value: Any) -> list[str]:
    """The event types an endpoint takes, or EndpointError naming `events`."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise EndpointError(f"events must be a non-empty list of event types ({', '.join(EVENT_TYPES)})")
    for kind in value:
        if kind not in EVENT_TYPES:
            raise EndpointError(f"events: {kind!r} is not an event type ({', '.join(EVENT_TYPES)})")
    return [kind for kind in EVENT_TYPES if kind in value]


def clean_secret(value: Any) -> str:
    """A signing secret a client chose, or EndpointError naming `secret`."""
    if not isinstance(value, str) or not SECRET_TEXT.fullmatch(value):
        raise EndpointError(f"secret must be {MIN_SECRET} to {MAX_SECRET} printable ASCII characters")
    return value


def clean_endpoint(value: Any, *, private_ok: bool, partial: bool = False) -> dict[str, Any]:
    """What a client sent for an endpoint, checked: every field for a new one (`url` required; defaults for
    the others are the store's), only those given for a change (`partial`)."""
    if not isinstance(value, dict):
        raise EndpointError("an endpoint must be a JSON object")
    extra = sorted(set(value) - set(FIELDS))
    if extra:
        raise EndpointError(f"{extra[0]} is not a field of an endpoint ({', '.join(FIELDS)})")
    if not partial and "url" not in value:
        raise EndpointError("url is required")
    if partial and not value:
        raise EndpointError("nothing to change: give at least one of " + ", ".join(FIELDS))
    cleaned: dict[str, Any] = {}
    if "url" in value:
        cleaned["url"] = check_url(value["url"], private_ok)
    if "description" in value:
        description = value["description"]
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise EndpointError(f"description must be text of at most {MAX_DESCRIPTION} characters")
        cleaned["description"] = description
    if "enabled" in value:
        cleaned["enabled"] = _flag(value["enabled"], "enabled")
    if "secret" in value:
        cleaned["secret"] = clean_secret(value["secret"])
    if "events" in value:
        cleaned["events"] = clean_events(value["events"])
    if "filter" in value:
        cleaned["filter"] = clean_filter(value["filter"])
    return cleaned


DEFAULT_EVENTS = [APPEARED]


def _kind_allowed(rule: Mapping[str, Any], known: bool) -> bool:
    """Whether a face of this kind passes `known` / `unknown` (a flag left out is the other one's opposite)."""
    if "known" in rule or "unknown" in rule:
        mine, other = ("known", "unknown") if known else ("unknown", "known")
        return bool(rule.get(mine, not rule.get(other)))
    return known or "persons" not in rule


def _in_hours(hours: Mapping[str, str], at: float, zone: ZoneInfo) -> bool:
    local = datetime.fromtimestamp(at, zone)
    now = local.hour * 60 + local.minute
    start, end = _minute(hours["from"], "from"), _minute(hours["to"], "to")
    if start == end:
        return True  # from a time to the same time: the whole day
    return start <= now < end if start < end else now >= start or now < end


def matches(rules: Rules, event: OutgoingEvent, zone: ZoneInfo) -> bool:
    """True when an endpoint with these rules is sent `event` (times read in `zone`)."""
    rule = rules.filter
    if event.type not in rules.events or not _kind_allowed(rule, event.known):
        return False
    if event.known and "persons" in rule and event.person_id not in rule["persons"]:
        return False
    if "cameras" in rule and not set(event.cameras) & set(rule["cameras"]):
        return False
    least = rule.get("min_confidence")
    if least is not None and event.confidence is not None and event.confidence < least:
        return False
    return "hours" not in rule or _in_hours(rule["hours"], event.at, zone)
