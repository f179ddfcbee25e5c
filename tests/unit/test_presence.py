"""The rules of presence and attendance without a database: the window, the reports' pace, days in a time zone."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from entry.presence_timer import pause_s
from facegate.attendance import AttendanceError, Slot, days, parse_range, slot_of, span, to_csv
from facegate.presence import ClosedVisit, has_left, is_present, report_every_s, with_camera
from pipeline.recognition.sighting_reports import SightingReports

PARIS = ZoneInfo("Europe/Paris")
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # UTC+5:45: a day there still starts on a quarter hour


def at(text: str, zone: ZoneInfo) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def slot(person: int, camera: str, moment: float, sightings: int = 1, name: str = "Ada") -> Slot:
    return Slot(person, name, camera, slot_of(moment), moment, moment, sightings)


def test_present_within_the_window_and_gone_after_it() -> None:
    assert is_present(100.0, 220.0, 120.0) and not has_left(100.0, 220.0, 120.0)
    assert has_left(100.0, 220.5, 120.0) and not is_present(100.0, 220.5, 120.0)
    assert is_present(105.0, 100.0, 120.0)  # a sighting a little ahead of this node's clock


def test_reports_come_at_most_every_few_seconds_and_several_times_per_window() -> None:
    assert report_every_s(120.0) == 5.0 and report_every_s(8.0) == 2.0
    reports = SightingReports()
    sent = [t for t in (0.0, 1.0, 4.9, 5.0, 6.0, 10.0, 10.1) if reports.due("Ada", 1000.0 + t, 120.0)]
    assert sent == [0.0, 5.0, 10.0]
    assert reports.due("visitor#3", 1001.0, 120.0)  # each subject on its own
    assert reports.due("Ada", 900.0, 120.0)  # a clock that went back does not silence a subject


def test_a_visits_cameras_keep_their_first_order() -> None:
    assert with_camera(with_camera(["door"], "hall"), "door") == ["door", "hall"]


def test_the_timer_passes_a_tenth_of_the_window_within_bounds() -> None:
    assert (pause_s(5.0), pause_s(20.0), pause_s(86400.0)) == (0.5, 2.0, 5.0)


def test_days_are_days_of_the_zone_with_first_and_last_sightings() -> None:
    late = at("2026-03-01T23:50:00", PARIS)  # 22:50 UTC: still the 1st in Paris
    early = at("2026-03-02T00:10:00", PARIS)  # 23:10 UTC on the 1st: the 2nd in Paris
    rows = days(
        [slot(1, "door", late), slot(1, "hall", late + 60, 2), slot(1, "door", early, 3), slot(2, "door", early)],
        PARIS,
    )
    assert [(r["date"], r["name"], r["sightings"], r["cameras"]) for r in rows] == [
        ("2026-03-01", "Ada", 3, ["door", "hall"]),
        ("2026-03-02", "Ada", 3, ["door"]),
        ("2026-03-02", "Ada", 1, ["door"]),
    ]
    assert rows[0]["first_seen"] == "2026-03-01T23:50:00+01:00" and rows[0]["last_seen"] == "2026-03-01T23:51:00+01:00"
    in_utc = days([slot(1, "door", late), slot(1, "door", early)], ZoneInfo("UTC"))
    assert [r["date"] for r in in_utc] == ["2026-03-01"]  # both on the 1st in UTC


def test_a_zones_day_is_whole_slots_even_off_the_hour_and_across_summer_time() -> None:
    start, end = span(date(2026, 3, 1), date(2026, 3, 1), KATHMANDU)
    assert start % 900 == 0 and end - start == 86400
    start, end = span(date(2026, 3, 29), date(2026, 3, 29), PARIS)  # the clocks go forward: a 23-hour day
    assert end - start == 23 * 3600
    assert slot_of(start + 899.0) == start


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-03-02", "2026-03-01", "from"),
        ("2026-01-01", "2027-01-02", "to"),
        ("2026-02-30", "2026-03-01", "from"),
        ("2026-W01-1", "2026-03-01", "from"),
        ("2026-03-01", "\uff12\uff10\uff12\uff16-03-01", "to"),  # full-width digits
        (None, "2026-03-01", "from"),
        ("2026-03-01", "", "to"),
    ],
)
def test_bad_ranges_name_their_field(start: str | None, end: str | None, field: str) -> None:
    with pytest.raises(AttendanceError, match=f"^{field}"):
        parse_range(start, end)


def test_a_year_and_a_day_is_the_most_one_request_takes() -> None:
    assert parse_range("2024-01-01", "2024-12-31") == (date(2024, 1, 1), date(2024, 12, 31))  # 366 days
    assert parse_range("2026-05-05", "2026-05-05") == (date(2026, 5, 5), date(2026, 5, 5))


def test_the_csv_has_a_header_and_one_line_per_day() -> None:
    rows = days([slot(7, "door", 1_000_000.0), slot(7, "yard", 1_000_100.0, name='Ada "A", Jr')], PARIS)
    table = list(csv.reader(io.StringIO(to_csv(rows))))
    assert table == [
        ["date", "person_id", "name", "first_seen", "last_seen", "sightings", "cameras"],
        ["1970-01-12", "7", "Ada", "1970-01-12T14:46:40+01:00", "1970-01-12T14:48:20+01:00", "2", "door yard"],
    ]


def test_a_left_payload_is_the_seeds_shape_plus_the_visit() -> None:
    visit = ClosedVisit(
        "evt_1", 4, None, "Ada", "2026-03-01T10:00:00.000Z", "2026-03-01T10:05:00.000Z", 1.0, "hall", ("door", "hall")
    )
    body = visit.payload()
    assert body["type"] == "left" and body["camera_id"] == "hall" and body["cameras"] == ["door", "hall"]
    assert body["result"] == {"timestamp": "2026-03-01T10:05:00.000Z", "name": "Ada", "person_id": 4}
    event = visit.outgoing()
    assert (event.type, event.person_id, event.known, event.cameras) == ("left", 4, True, ("door", "hall"))
    stranger = ClosedVisit("evt_2", None, 9, "Unknown", "a", "b", 1.0, "door", ("door",))
    assert stranger.payload()["visitor_id"] == 9 and not stranger.outgoing().known
