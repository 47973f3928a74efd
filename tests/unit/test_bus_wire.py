"""The cluster bus's frames: every event fits under PostgreSQL's NOTIFY limit and comes back whole."""

from __future__ import annotations

import pytest

from core.bus_wire import (
    PG_NOTIFY_LIMIT,
    Reassembler,
    decode_event,
    event_body,
    frames,
    parse_frame,
)
from cti.events import CallEnded, ScreenPopShown


def _pop(size: int) -> ScreenPopShown:
    history = [{"ticket": n, "subject": f"退款 {n} – reembolso " + "x" * 80} for n in range(size)]
    return ScreenPopShown((7, 9), "sim", "1700000000.42", {"number": "+8613800138000", "history": history})


def test_a_small_event_is_one_frame_and_comes_back_equal() -> None:
    event = CallEnded("sim", "1.1", "in", "+15550100", "support", "answered", 3, 12.5, 2.0,
                      segments=({"interface": "PJSIP/1001", "talk_s": 12.5},), user_ids=(3,))
    out = frames(event_body(event), "host-1", "ab12", 1, 1_700_000_000_000, PG_NOTIFY_LIMIT)
    assert len(out) == 1
    whole = Reassembler().feed(out[0])
    assert whole is not None and (whole.origin, whole.seq) == ("host-1", 1)
    back = decode_event(whole.body)
    assert back == event and isinstance(back.user_ids, tuple) and isinstance(back.segments, tuple)


def test_a_large_pop_is_cut_under_the_notify_limit_and_joined_back() -> None:
    event = _pop(300)  # some 50 kB of Chinese, Spanish and ASCII
    out = frames(event_body(event), "host-1", "ab12", 5, 1, PG_NOTIFY_LIMIT)
    assert len(out) > 5
    assert all(len(f.encode("utf-8")) <= PG_NOTIFY_LIMIT < 8000 for f in out)
    assert [parse_frame(f).part for f in out] == list(range(1, len(out) + 1))
    joiner = Reassembler()
    assert [joiner.feed(f) for f in out[:-1]] == [None] * (len(out) - 1)
    whole = joiner.feed(out[-1])
    assert whole is not None and decode_event(whole.body) == event
    assert joiner.broken == 0


def test_a_frame_lost_in_the_middle_drops_the_event_and_says_so() -> None:
    first = frames(event_body(_pop(100)), "a", "b", 1, 1, 2000)
    second = frames(event_body(_pop(1)), "a", "b", 2, 1, 2000)
    joiner = Reassembler()
    results = [joiner.feed(f) for f in first[:1] + first[2:]]  # the second part never came
    assert results == [None] * (len(first) - 1) and joiner.broken == 1
    for f in second[:-1]:
        joiner.feed(f)
    whole = joiner.feed(second[-1])
    assert whole is not None and whole.seq == 2  # the next event is whole again


def test_two_origins_interleaving_stay_apart() -> None:
    a = frames(event_body(_pop(60)), "a", "1", 1, 1, 3000)
    b = frames(event_body(_pop(40)), "b", "1", 1, 1, 3000)
    joiner = Reassembler()
    done = []
    for pair in zip(a, b, strict=False):
        done += [joiner.feed(f) for f in pair]
    done += [joiner.feed(f) for f in a[len(b):]]
    origins = sorted(w.origin for w in done if w is not None)
    assert origins == ["a", "b"] and joiner.broken == 0


@pytest.mark.parametrize("text", ["", "hello", "fd1|a|b|x|1|1|1|{}", "fd1|a|b|1|1|3|2|{}", "fd0|a|b|1|1|1|1|{}"])
def test_what_is_not_a_frame_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Reassembler().feed(text)
