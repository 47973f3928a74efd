"""The AMI framing on literal bytes, including what real Asterisk sends that surprises parsers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.parser import FrameReader, encode_action, parse_frames

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


def test_banner_without_blank_line_is_split_from_the_login_response() -> None:
    data = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
    result = parse_frames(data)
    assert result.banner == "Asterisk Call Manager/11.0.0"
    assert result.frames == [{"Response": "Success", "ActionID": "1", "Message": "Authentication accepted"}]
    assert result.bad == 0


def test_banner_alone_in_the_first_read() -> None:
    reader = FrameReader()
    assert reader.feed(b"Asterisk Call Manager/11.0.0\r\n").frames == []
    assert reader.banner == "Asterisk Call Manager/11.0.0"
    assert reader.feed(b"Response: Success\r\n\r\n").frames == [{"Response": "Success"}]


def test_crlf_lf_terminator_after_coreshowchannelmap() -> None:
    data = (
        b"Event: CoreShowChannelMapComplete\r\nActionID: 7\r\nEventList: Complete\r\nListItems: 0\r\n\n"
        b"Event: Hangup\r\nChannel: PJSIP/1001-00000001\r\nLinkedid: 1.1\r\n\r\n"
    )
    result = parse_frames(data)
    assert [f["Event"] for f in result.frames] == ["CoreShowChannelMapComplete", "Hangup"]
    assert result.leftover == b""


def test_frames_split_across_reads_and_values_with_colons() -> None:
    reader = FrameReader()
    whole = b"Event: VarSet\r\nVariable: X\r\nValue: a: b\r\nEmpty: \r\n\r\n"
    frames = []
    for i in range(len(whole)):
        frames += reader.feed(whole[i : i + 1]).frames
    assert frames == [{"Event": "VarSet", "Variable": "X", "Value": "a: b", "Empty": ""}]


def test_non_utf8_caller_name_is_kept_and_counted() -> None:
    data = b"Event: Newchannel\r\nCallerIDName: \xd5\xc5\xce\xb0\r\nCallerIDNum: 100\r\n\r\n"
    result = parse_frames(data)
    assert result.non_utf8 == 1
    assert result.frames[0]["CallerIDNum"] == "100"
    assert "\ufffd" in result.frames[0]["CallerIDName"]


def test_garbage_between_frames_is_counted_and_the_next_frame_parsed() -> None:
    data = b"Event: A\r\n\r\nthis is not a header\r\n\r\nEvent: B\r\n\r\n"
    result = parse_frames(data)
    assert [f["Event"] for f in result.frames] == ["A", "B"]
    assert result.bad == 1


def test_oversized_partial_frame_is_discarded() -> None:
    reader = FrameReader(max_frame=1000)
    result = reader.feed(b"Event: Big\r\nData: " + b"x" * 5000)
    assert result.bad == 1 and reader.buffer == b""
    assert reader.feed(b"\r\n\r\nEvent: Next\r\n\r\n").frames[-1] == {"Event": "Next"}


def test_every_recorded_transcript_parses_without_a_bad_frame() -> None:
    for path in sorted(FIXTURES.glob("*.raw")):
        result = parse_frames(path.read_bytes())
        assert result.bad == 0, path.name
        assert result.banner == "Asterisk Call Manager/11.0.0"
        assert result.leftover == b""
        assert any(f.get("Event") == "OriginateResponse" and "Response" in f for f in result.frames) or "click" not in path.name


def test_action_with_a_line_break_in_a_value_is_refused() -> None:
    try:
        encode_action("Originate", {"Exten": "1001\r\nAction: Hangup"})
    except ValueError:
        return
    raise AssertionError("header injection was not refused")


_line = st.builds(lambda k, v: k + b": " + v + b"\r\n", st.sampled_from([b"Channel", b"Linkedid", b"X"]),
                  st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")))
_frame = st.lists(_line, min_size=1, max_size=6).map(lambda ls: b"Event: Good\r\n" + b"".join(ls) + b"\r\n")
_junk = st.binary(max_size=300)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_frame, _junk, st.just(b"\r\n\n"), st.just(b"Asterisk Call Manager/11.0.0\r\n")), max_size=12),
       st.lists(st.integers(min_value=1, max_value=64), max_size=20))
def test_any_bytes_in_any_chunking_never_crash(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)
    reader = FrameReader(max_frame=400)
    pos = 0
    for cut in cuts:
        reader.feed(data[pos : pos + cut])
        pos += cut
    reader.feed(data[pos:])
    assert len(reader.buffer) <= 400


@settings(max_examples=200, deadline=None)
@given(st.lists(_frame, min_size=1, max_size=8), _junk.filter(lambda b: b"\n" not in b), st.integers(1, 50))
def test_good_frames_after_a_bad_one_are_all_parsed(frames: list[bytes], junk: bytes, chunk: int) -> None:
    data = junk + b"\r\n\r\n" + b"".join(frames)
    reader = FrameReader()
    parsed = []
    for i in range(0, len(data), chunk):
        parsed += reader.feed(data[i : i + chunk]).frames
    good = [f for f in parsed if f.get("Event") == "Good"]
    assert len(good) == len(frames)


async def test_a_full_event_queue_counts_what_it_drops_and_says_so_in_health() -> None:
    from cti.link import AmiLink, FrameQueue
    from cti.settings import PbxSettings

    queue = FrameQueue(2, "unit")
    assert [queue.put({"Event": str(n)}) for n in range(4)] == [True, True, False, False]
    assert queue.overflow == 2 and [f["Event"] for f in await queue.get_batch()] == ["0", "1"]

    async def sink(_batch: list) -> None:
        pass

    link = AmiLink(PbxSettings.model_validate({"username": "u", "secret": "s"}), sink, queue_size=100)
    link.queue.overflow = 7
    assert "7 events DROPPED" in link.health_detail()
