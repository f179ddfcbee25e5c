"""A camera's connection states and reconnect backoff (capture's `Link`), and the times it gives frames read in
a group (`ReadClock`), without a camera."""

from __future__ import annotations

from pipeline.capture import BACKOFF_MAX_S, Link, ReadClock
from pipeline.runtime.run_mode import LIVE, Mode


def attempt(link: Link, *, goes_live: bool, lasts_s: float = 1.0) -> tuple[str, str, float]:
    """One open-read-lose cycle as capture runs it: (state while opening, state after, wait before the next)."""
    opening = link.opening()
    link.enter(opening)
    if goes_live:
        link.enter("live")
    after, wait = link.attempt_failed("stream stalled or closed", lasts_s)
    link.enter(after)
    return opening, after, wait


def test_a_camera_that_never_worked_is_connecting_then_failed_and_backs_off_up_to_30_s() -> None:
    link = Link()
    seen = [attempt(link, goes_live=False) for _ in range(7)]
    assert seen[0][:2] == ("connecting", "failed")
    assert all(opening == "connecting" and after == "failed" for opening, after, _ in seen)
    assert [wait for _, _, wait in seen] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert link.last_error == "stream stalled or closed"


def test_once_live_a_lost_camera_is_reconnecting_not_failed() -> None:
    link = Link()
    assert attempt(link, goes_live=False) == ("connecting", "failed", 1.0)
    assert attempt(link, goes_live=True) == ("connecting", "reconnecting", 2.0)
    assert attempt(link, goes_live=False) == ("reconnecting", "reconnecting", 4.0)


def test_the_backoff_starts_over_after_a_camera_stayed_live_for_a_while() -> None:
    link = Link()
    for _ in range(4):
        attempt(link, goes_live=False)  # waits 1, 2, 4, 8
    assert attempt(link, goes_live=True, lasts_s=5.0)[2] == 16.0  # briefly live: no reset
    assert attempt(link, goes_live=True, lasts_s=BACKOFF_MAX_S + 1)[2] == 1.0
    assert attempt(link, goes_live=False)[2] == 2.0


def test_a_state_change_is_reported_once() -> None:
    link = Link()
    assert link.enter("connecting") is True
    assert link.enter("connecting") is False
    assert link.enter("live") is True


def test_a_replay_waits_for_slots_and_ends_with_its_file_while_live_drops_and_loops() -> None:
    replay, paced_replay = Mode(replay=True), Mode(replay=True, pace=True)
    assert (LIVE.waits_for_slots, LIVE.ends_with_file, LIVE.restarts_captures, LIVE.paced) == (False, False, True, True)
    assert (replay.waits_for_slots, replay.ends_with_file, replay.restarts_captures, replay.paced) == (
        True,
        True,
        False,
        False,
    )
    assert paced_replay.paced
    assert replay.pts(is_file=True, frame_index=60, fps=30.0, captured_at=1e9) == 2.0
    assert LIVE.pts(is_file=True, frame_index=60, fps=30.0, captured_at=1e9) == 1e9
    assert replay.pts(is_file=False, frame_index=60, fps=30.0, captured_at=1e9) == 1e9


def test_frames_read_in_a_group_are_dated_a_frame_period_apart_and_never_back_in_time() -> None:
    clock = ReadClock()
    # a group of 3 decoded back to back at 100.0 s (within a millisecond): each dated a 15 fps period apart
    times = [clock.due(newer, 15.0, now) for newer, now in ((2, 100.0), (1, 100.0005), (0, 100.001))]
    assert times == [100.0 - 2 / 15, 100.0005 - 1 / 15, 100.001]
    # the next group read at once (capture fell behind): its older frames are dated just after the last one
    assert clock.due(2, 15.0, 100.002) == 100.001 + 1e-6
    assert clock.due(0, 15.0, 100.2) == 100.2
