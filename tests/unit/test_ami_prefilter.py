"""The raw door filter drops only frames the tracker would drop anyway, without decoding them."""

from __future__ import annotations

from pathlib import Path

from cti.parser import FrameReader, parse_frames
from cti.prefilter import RawEventFilter
from cti.scenarios import load_template
from cti.tracker import TRACKED_EVENTS, TRACKED_VARIABLES, wants

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
keep = RawEventFilter(TRACKED_EVENTS, TRACKED_VARIABLES)


def test_every_recorded_frame_the_tracker_wants_gets_through_and_most_others_do_not() -> None:
    data = load_template().data
    everything = parse_frames(data).frames
    filtered = parse_frames(data, keep=keep)
    assert filtered.frames == [f for f in everything if wants(f) or "ActionID" in f]
    assert filtered.skipped == len(everything) - len(filtered.frames)
    assert filtered.skipped > len(everything) // 2  # the recorded mix is mostly VarSet and dialplan chatter


def test_the_recorded_live_transcripts_lose_nothing_the_tracker_reads() -> None:
    for path in sorted(FIXTURES.glob("*.raw")):
        data = path.read_bytes()
        assert [f for f in parse_frames(data, keep=keep).frames if wants(f)] == [f for f in parse_frames(data).frames if wants(f)], path.name


def test_replies_list_items_and_odd_frames_are_left_to_the_parser() -> None:
    data = (
        b"Response: Success\r\nActionID: 3\r\nMessage: Pong\r\n\r\n"
        b"Event: CoreShowChannel\r\nActionID: 4\r\nChannel: PJSIP/1001-1\r\n\r\n"
        b"Event: Newexten\r\nChannel: PJSIP/1001-1\r\nApplication: Dial\r\n\r\n"
        b"Event: VarSet\r\nChannel: PJSIP/1001-1\r\nVariable: DIALSTATUS\r\nValue: ANSWER\r\n\r\n"
        b"Event: VarSet\nChannel: PJSIP/1001-1\nVariable: QUEUESTATUS\nValue: TIMEOUT\n\n"
        b"Event: VarSet\r\nChannel: PJSIP/1001-1\r\n\r\n"
        b"Event: Hangup\r\nChannel: PJSIP/1001-1\r\nLinkedid: 1.1\r\n\r\n"
    )
    reader = FrameReader(keep=keep)
    result = reader.feed(data)
    assert [f.get("Event", f.get("Response")) for f in result.frames] == ["Success", "CoreShowChannel", "VarSet", "VarSet", "Hangup"]
    assert result.frames[2]["Value"] == "TIMEOUT"
    assert (reader.frames, reader.skipped) == (7, 2)
