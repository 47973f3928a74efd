"""What the AMI simulator plays: recorded transcripts and generated calls.

Transcripts are the ``*.ami`` files recorded from a real Asterisk 22 (see
``tests/fixtures/ami/README.txt``): ``### RX|TX <epoch> <iso> +<offset>`` headers, each
followed by the bytes of one message. Only the PBX's own events are replayed; replies
to the recorder's actions and its login are not (the simulator answers actions itself).
Generated calls produce the same event sequence and fields a real queue call does.
``load_template`` is the recorded 10 calls/s mix, encoded once: the simulator's background
load (``AmiSimulator.play_load``) and what the AMI benchmark parses.
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from cti.parser import Frame, parse_frames

_HEADER = re.compile(rb"^### (RX|TX) (\S+) (\S+) \+(\S+)\r?\n", re.M)
_SESSION_EVENTS = frozenset({"FullyBooted", "SuccessfulAuth"})
_IDS = re.compile(rb"\b(1795352\d{3})\.(\d+)|(-)([0-9a-f]{8})\b")


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """Frames the PBX emits ``at`` seconds after the scenario starts."""

    at: float
    frame: Frame


def read_transcript(path: str | Path) -> bytes:
    data = Path(path).read_bytes()
    return gzip.decompress(data) if str(path).endswith(".gz") else data


def transcript_events(data: bytes, substitute: dict[str, str] | None = None, keep: frozenset[str] = frozenset()) -> list[Step]:
    """The PBX-originated events of a transcript with their offsets, optionally rewritten.

    Events answering the recorder's own actions are left out, except those named in ``keep``
    (an ``OriginateResponse`` is what the tracker reads of an asynchronous Originate).
    """
    for old, new in (substitute or {}).items():
        data = data.replace(old.encode(), new.encode())
    headers = list(_HEADER.finditer(data))
    steps: list[Step] = []
    for i, match in enumerate(headers):
        if match.group(1) != b"RX":
            continue
        end = headers[i + 1].start() if i + 1 < len(headers) else len(data)
        body = data[match.end() : end]
        offset = float(match.group(4))
        for frame in parse_frames(body + b"\r\n").frames:
            event = frame.get("Event")
            if event is None or ("ActionID" in frame and event not in keep) or event in _SESSION_EVENTS:
                continue
            steps.append(Step(offset, frame))
    if steps:
        start = steps[0].at
        steps = [Step(s.at - start, s.frame) for s in steps]
    return steps


def renumber(data: bytes, generation: int) -> bytes:
    """Make a replayed stream's Uniqueids, Linkedids and channel names distinct per pass."""
    if generation == 0:
        return data

    def sub(m: re.Match[bytes]) -> bytes:
        if m.group(1):
            return b"%d.%s" % (int(m.group(1)) + generation * 1000, m.group(2))
        return b"-%08x" % ((int(m.group(4), 16) + generation * 0x10000) & 0xFFFFFFFF)

    return _IDS.sub(sub, data)


def encode_event(frame: Frame) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in frame.items()) + "\r\n").encode("utf-8")


# -- the load template ----------------------------------------------------------------------
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"


@dataclasses.dataclass(slots=True)
class LoadTemplate:
    data: bytes  # events only, each ending in a blank line
    events: int
    frames: list[bytes]  # ``data`` split into its events, without their blank lines


_templates: dict[str, LoadTemplate] = {}


def load_template(path: str | Path | None = None) -> LoadTemplate:
    key = str(path or FIXTURES / "load" / "load_10cps.ami.gz")
    if key not in _templates:
        encoded = [encode_event(s.frame) for s in transcript_events(read_transcript(key))]
        _templates[key] = LoadTemplate(b"".join(encoded), len(encoded), [e[:-4] for e in encoded])
    return _templates[key]


# -- generated calls ---------------------------------------------------------------------
_chan_seq = itertools.count(0x1000)
_id_seq = itertools.count(1)
_EPOCH = int(time.time())


def _channel_fields(channel: str, state: int, num: str, name: str, cl_num: str, cl_name: str,
                    uniqueid: str, linkedid: str, context: str = "from-customer", exten: str = "8000") -> Frame:
    desc = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}.get(state, "Unknown")
    return {
        "Channel": channel, "ChannelState": str(state), "ChannelStateDesc": desc,
        "CallerIDNum": num, "CallerIDName": name, "ConnectedLineNum": cl_num,
        "ConnectedLineName": cl_name, "Language": "en", "AccountCode": "", "Context": context,
        "Exten": exten, "Priority": "1", "Uniqueid": uniqueid, "Linkedid": linkedid,
    }


def _dest(fields: Frame) -> Frame:
    return {"Dest" + k: v for k, v in fields.items()}


@dataclasses.dataclass(slots=True)
class QueueCall:
    """An inbound call through a queue; ``answered_by`` None means nobody answers."""

    caller: str
    caller_name: str = ""
    queue: str = "support"
    ring: Sequence[str] = ("PJSIP/1001",)
    answered_by: str | None = "PJSIP/1001"
    ring_s: float = 2.0
    talk_s: float = 5.0
    abandon_s: float = 6.0
    timeout: bool = False  # the queue gives up (QUEUESTATUS=TIMEOUT) instead of the caller
    linkedid: str = ""

    def steps(self) -> list[Step]:
        seq = next(_id_seq)
        linkedid = self.linkedid or f"{_EPOCH}.{seq}"  # like Asterisk's: unique across restarts
        cust_chan = f"PJSIP/customer-{next(_chan_seq):08x}"
        name = self.caller_name or self.caller
        cust = _channel_fields(cust_chan, 4, self.caller, name, "<unknown>", "<unknown>", linkedid, linkedid)
        out: list[Step] = []

        def add(at: float, event: str, **fields: str) -> None:
            out.append(Step(at, {"Event": event, "Privilege": "call,all", **fields}))

        add(0, "Newchannel", **cust)
        cust = {**cust, "ChannelState": "6", "ChannelStateDesc": "Up"}
        add(0, "Newstate", **cust)
        add(0, "VarSet", **cust, Variable="QUEUEPOSITION", Value="1")
        add(0, "QueueCallerJoin", **cust, Queue=self.queue, Position="1", Count="1")
        legs: dict[str, Frame] = {}
        for n, interface in enumerate(self.ring):
            ext = interface.rsplit("/", 1)[-1]
            leg = _channel_fields(f"{interface}-{next(_chan_seq):08x}", 0, ext, f"Agent {ext}", self.caller,
                                  name, f"{linkedid}{n + 1}", linkedid, "agents", self.queue)
            legs[interface] = leg
            add(0.01, "Newchannel", **leg)
            add(0.01, "AgentCalled", **cust, **_dest(leg), Queue=self.queue, Interface=interface, MemberName=f"Agent {ext}")
            add(0.01, "DialBegin", **cust, **_dest(leg), DialString=interface)
            legs[interface] = leg = {**leg, "ChannelState": "5", "ChannelStateDesc": "Ringing"}
            add(0.02, "Newstate", **leg)
        if self.answered_by is not None:
            t = self.ring_s
            agent = legs[self.answered_by]
            agent = {**agent, "ChannelState": "6", "ChannelStateDesc": "Up"}
            ext = self.answered_by.rsplit("/", 1)[-1]
            cust = {**cust, "ConnectedLineNum": ext, "ConnectedLineName": f"Agent {ext}"}
            add(t, "Newstate", **agent)
            add(t, "DialEnd", **cust, **_dest(agent), DialStatus="ANSWER")
            hold = str(round(t))
            add(t, "AgentConnect", **cust, **_dest(agent), Queue=self.queue, Interface=self.answered_by,
                MemberName=f"Agent {ext}", HoldTime=hold, RingTime=hold)
            for interface, leg in legs.items():
                if interface != self.answered_by:
                    add(t, "DialEnd", **cust, **_dest(leg), DialStatus="CANCEL")
                    add(t, "Hangup", **leg, Cause="26", **{"Cause-txt": "Answered elsewhere"})
            add(t, "QueueCallerLeave", **cust, Queue=self.queue, Position="1", Count="0")
            bridge = {"BridgeUniqueid": f"bridge-{linkedid}", "BridgeType": "basic", "BridgeTechnology": "simple_bridge"}
            add(t, "BridgeEnter", **bridge, **agent)
            add(t, "BridgeEnter", **bridge, **cust)
            end = t + self.talk_s
            add(end, "BridgeLeave", **bridge, **cust)
            add(end, "BridgeLeave", **bridge, **agent)
            add(end, "AgentComplete", **cust, **_dest(agent), Queue=self.queue, Interface=self.answered_by,
                MemberName=f"Agent {ext}", HoldTime=hold, TalkTime=str(round(self.talk_s)), Reason="caller")
            add(end, "Hangup", **cust, Cause="16", **{"Cause-txt": "Normal Clearing"})
            add(end, "Hangup", **agent, Cause="16", **{"Cause-txt": "Normal Clearing"})
        else:
            t = self.abandon_s
            if self.timeout:
                add(t, "VarSet", **cust, Variable="QUEUESTATUS", Value="TIMEOUT")
            add(t, "QueueCallerAbandon", **cust, Queue=self.queue, Position="1", OriginalPosition="1",
                HoldTime=str(round(t)))
            add(t, "QueueCallerLeave", **cust, Queue=self.queue, Position="1", Count="0")
            for leg in legs.values():
                add(t, "DialEnd", **cust, **_dest(leg), DialStatus="CANCEL")
                add(t, "Hangup", **leg, Cause="0", **{"Cause-txt": "Unknown"})
            add(t, "Hangup", **cust, Cause="16" if self.timeout else "0",
                **{"Cause-txt": "Normal Clearing" if self.timeout else "Unknown"})
        return out


def merge(*scripts: Iterable[Step]) -> list[Step]:
    return sorted(itertools.chain(*scripts), key=lambda s: s.at)
