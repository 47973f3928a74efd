"""Draining an instance: SIGTERM stops new live sockets and tells the open ones to reconnect elsewhere."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from web_fixtures import WebSite

from agent_ui.live.drain import DRAIN
from config.services import Services
from core.records import User
from core.users import add_user, issue_api_token

GOING_ELSEWHERE = 1012


async def test_a_draining_instance_refuses_new_sockets_and_closes_the_open_ones_politely(site: WebSite) -> None:
    agent = await site.login("agent")
    supervisor = await site.login("supervisor")
    console = await agent.http.ws_connect("/ws")
    board = await supervisor.http.ws_connect("/wallboard/ws")
    assert (await board.receive_json())["event"] == "wallboard.frame"
    app = site.server.app
    assert app is not None
    await app[DRAIN].begin(app)  # what SIGTERM starts with
    with pytest.raises(WSServerHandshakeError) as refused:
        await agent.http.ws_connect("/ws")
    assert refused.value.status == 503
    ready = await (await site.anonymous()).api("GET", "/readyz", status=503)
    assert ready["status"] == "draining"
    closing = asyncio.create_task(site.server.close())
    for ws in (console, board):
        async with asyncio.timeout(5):
            message = await ws.receive()
            while message.type not in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                message = await ws.receive()
        assert ws.close_code == GOING_ELSEWHERE, message
        assert message.extra == "reconnect elsewhere"
    await closing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_sigterm_on_frontdesk_serve_drains_and_exits_cleanly(services: Services, tmp_path: Path) -> None:
    async with services.db.transaction() as session:
        user: User = await add_user(session, "amy", "a-long-password", "Amy", ["agent"])
        token = await issue_api_token(session, user, "drain test")
    port = _free_port()
    env = {**os.environ, "FRONTDESK_DATABASE_URL": services.settings.database_url, "FRONTDESK_CLUSTER__INSTANCE_ID": "drained"}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "config.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.1)
            ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws")
            server.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                message = await ws.receive()
            assert message.type == WSMsgType.CLOSE and message.data == GOING_ELSEWHERE
            assert message.extra == "reconnect elsewhere"
            async with asyncio.timeout(20):
                code = await server.wait()
        assert code == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    output = (await server.stdout.read()).decode() if server.stdout else ""
    assert "Traceback" not in output, output
