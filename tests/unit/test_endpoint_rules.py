"""A webhook endpoint's rules: what a client may write (each refusal names its field) and which events match."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from facegate.endpoint_rules import Rules, clean_endpoint, clean_filter, matches
from facegate.events import APPEARED, LEFT, OutgoingEvent
from facegate.webhook_urls import EndpointError, check_url

LIN, ALEX = 1, 2
PARIS = ZoneInfo("Europe/Paris")


def at(hour: int, minute: int = 0, zone: ZoneInfo = PARIS) -> float:
    """Epoch seconds of that local time on a winter day (Paris is UTC+1 then)."""
    return datetime(2026, 1, 15, hour, minute, tzinfo=zone).timestamp()


def event(
    *,
    person_id: int | None = LIN,
    kind: str = APPEARED,
    cameras: tuple[str, ...] = ("door",),
    confidence: float | None = 0.7,
    when: float | None = None,
) -> OutgoingEvent:
    return OutgoingEvent(
        event_id="evt_1",
        type=kind,
        payload={"type": kind},
        person_id=person_id,
        known=person_id is not None,
        cameras=cameras,
        confidence=confidence,
        at=at(12) if when is None else when,
    )


def sent(rule: dict, happened: OutgoingEvent, events: tuple[str, ...] = (APPEARED, LEFT)) -> bool:
    return matches(Rules(events, clean_filter(rule)), happened, PARIS)


STRANGER = {"person_id": None}


def test_no_filter_sends_every_event_of_the_types_asked_for() -> None:
    assert sent({}, event()) and sent({}, event(**STRANGER)) and sent({}, event(kind=LEFT))
    assert not sent({}, event(kind=LEFT), events=(APPEARED,))
    assert not sent({}, event(), events=(LEFT,))


def test_known_and_unknown_pick_the_kinds_of_face() -> None:
    assert sent({"unknown": True}, event(**STRANGER)) and not sent({"unknown": True}, event())
    assert sent({"known": False}, event(**STRANGER)) and not sent({"known": False}, event())
    assert sent({"known": True}, event()) and not sent({"known": True}, event(**STRANGER))
    assert sent({"known": True, "unknown": True}, event(**STRANGER))


def test_persons_narrow_the_known_faces_and_leave_strangers_to_the_flags() -> None:
    assert sent({"persons": [LIN]}, event()) and not sent({"persons": [LIN]}, event(person_id=ALEX))
    assert not sent({"persons": [LIN]}, event(**STRANGER)), "persons alone: only those people"
    both = {"persons": [LIN], "unknown": True, "known": True}
    assert sent(both, event()) and sent(both, event(**STRANGER)) and not sent(both, event(person_id=ALEX))


def test_cameras_and_min_confidence() -> None:
    assert sent({"cameras": ["door", "yard"]}, event(cameras=("yard",)))
    assert not sent({"cameras": ["door"]}, event(cameras=("hall",)))
    assert sent({"cameras": ["door"]}, event(kind=LEFT, cameras=("hall", "door"))), "a visit seen on several"
    assert sent({"min_confidence": 0.6}, event(confidence=0.6))
    assert not sent({"min_confidence": 0.6}, event(confidence=0.59))
    assert sent({"min_confidence": 0.6}, event(kind=LEFT, confidence=None)), "a left event has no confidence"


@pytest.mark.parametrize(
    ("start", "end", "inside", "outside"),
    [
        ("09:00", "17:00", [(9, 0), (12, 30), (16, 59)], [(8, 59), (17, 0), (23, 0)]),
        ("22:00", "06:00", [(22, 0), (23, 59), (0, 0), (5, 59)], [(6, 0), (12, 0), (21, 59)]),
        ("07:00", "07:00", [(7, 0), (6, 59), (19, 0)], []),
    ],
)
def test_hours_are_local_time_in_the_zone_and_may_cross_midnight(
    start: str, end: str, inside: list[tuple[int, int]], outside: list[tuple[int, int]]
) -> None:
    rule = {"hours": {"from": start, "to": end}}
    for hour, minute in inside:
        assert sent(rule, event(when=at(hour, minute))), (start, end, hour, minute)
    for hour, minute in outside:
        assert not sent(rule, event(when=at(hour, minute))), (start, end, hour, minute)


def test_hours_are_read_in_the_zone_given() -> None:
    night = Rules((APPEARED,), clean_filter({"hours": {"from": "22:00", "to": "06:00"}}))
    utc_23 = datetime(2026, 1, 15, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # 00:30 in Paris
    assert matches(night, event(when=utc_23), PARIS)
    utc_21 = datetime(2026, 1, 15, 21, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # 22:30 in Paris, 21:30 in UTC
    assert matches(night, event(when=utc_21), PARIS) and not matches(night, event(when=utc_21), ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "file:///etc/passwd"}, "url must be http:// or https://"),
        ({"url": "ftp://example.com/x"}, "url must be http:// or https://"),
        ({"url": "http:///nohost"}, "url must name a host"),
        ({"url": "http://example.com:99999/"}, "url is not a valid URL"),
        ({"url": 5}, "url must be"),
        ({"description": "x"}, "url is required"),
        ({"url": "https://example.com/", "filter": {"hours": {"from": "25:00", "to": "06:00"}}}, "filter.hours.from"),
        ({"url": "https://example.com/", "filter": {"hours": {"from": "22:00", "to": "6:00"}}}, "filter.hours.to"),
        ({"url": "https://example.com/", "filter": {"hours": {"from": "22:00"}}}, "filter.hours must be"),
        ({"url": "https://example.com/", "events": ["appeared", "vanished"]}, "events: 'vanished'"),
        ({"url": "https://example.com/", "events": []}, "events must be a non-empty list"),
        ({"url": "https://example.com/", "filter": {"persons": [0]}}, "filter.persons"),
        ({"url": "https://example.com/", "filter": {"persons": [True]}}, "filter.persons"),
        ({"url": "https://example.com/", "filter": {"cameras": "door"}}, "filter.cameras"),
        ({"url": "https://example.com/", "filter": {"known": "yes"}}, "filter.known must be true or false"),
        ({"url": "https://example.com/", "filter": {"known": False, "unknown": False}}, "filter.known and"),
        ({"url": "https://example.com/", "filter": {"min_confidence": 1.5}}, "filter.min_confidence"),
        ({"url": "https://example.com/", "filter": {"faces": 1}}, "filter.faces is not a filter"),
        ({"url": "https://example.com/", "secret": "short"}, "secret must be"),
        ({"url": "https://example.com/", "enabled": "no"}, "enabled must be true or false"),
        ({"url": "https://example.com/", "colour": "red"}, "colour is not a field"),
        ({"url": "https://example.com/", "description": "x" * 501}, "description must be"),
    ],
)
def test_bad_input_is_refused_naming_the_field(body: dict, field: str) -> None:
    with pytest.raises(EndpointError) as refused:
        clean_endpoint(body, private_ok=False)
    assert field in str(refused.value)


def test_a_change_checks_only_what_it_gives() -> None:
    assert clean_endpoint({"enabled": False}, private_ok=False, partial=True) == {"enabled": False}
    with pytest.raises(EndpointError, match="nothing to change"):
        clean_endpoint({}, private_ok=False, partial=True)
    cleaned = clean_endpoint(
        {
            "url": " https://hooks.example.com/in ",
            "events": ["left", "appeared", "left"],
            "filter": {"persons": [2, 1, 2], "hours": {"from": "22:00", "to": "06:00"}, "min_confidence": 1},
        },
        private_ok=False,
    )
    assert cleaned == {
        "url": "https://hooks.example.com/in",
        "events": ["appeared", "left"],
        "filter": {"persons": [2, 1], "hours": {"from": "22:00", "to": "06:00"}, "min_confidence": 1.0},
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3005/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_and_loopback_addresses_need_the_setting(url: str) -> None:
    with pytest.raises(EndpointError, match="FACEGATE_WEBHOOK_PRIVATE_OK"):
        check_url(url, private_ok=False)
    assert check_url(url, private_ok=True) == url


def test_public_addresses_and_names_are_taken() -> None:
    for url in ("https://hooks.example.com/in", "http://93.184.216.34/x", "HTTPS://Example.com"):
        assert check_url(url, private_ok=False) == url
