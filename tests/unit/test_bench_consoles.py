"""The benchmark's raw consoles: they must read what a browser reads, or ``bench ami``
measures nothing. Checked against aiohttp's own WebSocket server."""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web
from hypothesis import given
from hypothesis import strategies as st

from cti.bench_consoles import OP_TEXT, client_frame, open_consoles


@given(st.binary(max_size=70_000))
def test_client_frames_unmask_to_the_payload(payload: bytes) -> None:
    frame = client_frame(OP_TEXT, payload)
    assert frame[0] == 0x80 | OP_TEXT and frame[1] & 0x80  # final, text, masked
    size, start = frame[1] & 0x7F, 2
    if size == 126:
        size, start = int.from_bytes(frame[2:4], "big"), 4
    elif size == 127:
        size, start = int.from_bytes(frame[2:10], "big"), 10
    mask, body = frame[start:start + 4], frame[start + 4:]
    assert size == len(payload) == len(body)
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == payload


async def test_consoles_get_pops_only_and_answer_pings() -> None:
    watches: list[object] = []
    pongs = asyncio.Event()

    async def socket(request: web.Request) -> web.WebSocketResponse:
        assert request.cookies.get("fd_session") in {"a", "b"}
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        watches.append(json.loads((await ws.receive()).data))
        await ws.send_str(json.dumps({"event": "ticket.updated", "data": {"ticket_id": 1, "subject": "x" * 300}}))
        await ws.send_str(json.dumps({"event": "cti.pop", "data": {"linkedid": request.cookies["fd_session"], "n": "y" * 70_000}}))
        await ws.ping(b"hi")
        async for msg in ws:
            if msg.type == WSMsgType.PONG and msg.data == b"hi":
                pongs.set()
        return ws

    app = web.Application()
    app.router.add_get("/ws", socket)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    pops: list[str] = []
    both = asyncio.Event()

    def on_pop(text: bytes) -> None:
        pops.append(json.loads(text)["data"]["linkedid"])
        if len(pops) == 2:
            both.set()

    try:
        consoles = await open_consoles("127.0.0.1", port, [("fd_session", "a"), ("fd_session", "b")],
                                       b'{"watch": {"queue": "status=open"}}', on_pop)
        async with asyncio.timeout(5):
            await both.wait()
            await pongs.wait()
        assert sorted(pops) == ["a", "b"]
        assert watches == [{"watch": {"queue": "status=open"}}] * 2
        for console in consoles:
            console.close()
    finally:
        await runner.cleanup()
