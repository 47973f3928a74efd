"""The IMAP side of ingest: connect, watch a folder (IDLE or polling), fetch by UID, hand over.

``ImapIngest.run`` is a supervised body: it returns or raises when the link is lost
and the supervisor reconnects with backoff. Messages are fetched with
``BODY.PEEK[]`` by UID range (so mail a person already read is imported too, and
fetching marks nothing); they are flagged \\Seen, or moved to the processed folder,
only after the importer committed them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Sequence
from typing import Any

import aioimaplib

from channels.ingest import FetchedMail, MailImporter
from channels.parsing import Parsed
from channels.settings import MailboxSettings
from core.supervisor import SupervisedTask

log = logging.getLogger(__name__)

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_HEAD = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"UID (\d+)")
_LITERAL = re.compile(rb"\{(\d+)\}$")
IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before the server's 30-minute timeout


class ImapError(Exception):
    pass


def _check(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        detail = b" ".join(bytes(x) for x in response.lines[-1:]).decode("utf-8", "replace")
        raise ImapError(f"{what} failed: {response.result} {detail}")
    return response


class ArrivalWatch:
    """Notices every untagged EXISTS, including those aioimaplib drops, and a lost link.

    A mail that arrives while a SEARCH runs is announced in that command's response
    (which aioimaplib ignores) and not again when IDLE starts; without this, the
    ingest would sleep until the next mail. A link lost during IDLE would likewise
    go unnoticed until the IDLE renewal.
    """

    def __init__(self, client: aioimaplib.IMAP4) -> None:
        self.arrived = False
        self.lost = asyncio.Event()
        protocol = client.protocol
        protocol.conn_lost_cb = lambda _exc: self.lost.set()
        original = protocol._untagged_response

        def untagged(line: bytes) -> Any:
            if line.rstrip().endswith(b"EXISTS"):
                self.arrived = True
            return original(line)

        protocol._untagged_response = untagged


async def connect(mailbox: MailboxSettings) -> aioimaplib.IMAP4:
    """A logged-in client; TLS, STARTTLS or plain (loopback) as configured."""
    if mailbox.security == "tls":
        client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
            host=mailbox.host, port=mailbox.port, timeout=mailbox.timeout, ssl_context=tls_context(mailbox.ca_file)
        )
    else:
        client = aioimaplib.IMAP4(host=mailbox.host, port=mailbox.port, timeout=mailbox.timeout)
    try:
        await client.wait_hello_from_server()
        if mailbox.security == "starttls":
            await _starttls(client, mailbox)
        _check(await client.login(mailbox.username, mailbox.password.get_secret_value()), "LOGIN")
    except BaseException:
        close_transport(client)
        raise
    return client


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificate and host name verified, against ``ca_file`` when set, else the system's CAs."""
    return ssl.create_default_context(cafile=ca_file)


def close_transport(client: aioimaplib.IMAP4) -> None:
    transport = getattr(client.protocol, "transport", None)
    if transport is not None:
        transport.close()


async def _starttls(client: aioimaplib.IMAP4, mailbox: MailboxSettings) -> None:
    protocol = client.protocol
    # aioimaplib has no STARTTLS call of its own; the command is in its table.
    _check(await protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)), "STARTTLS")
    loop = asyncio.get_running_loop()
    transport = await loop.start_tls(
        protocol.transport, protocol, tls_context(mailbox.ca_file), server_hostname=mailbox.host
    )
    protocol.transport = transport
    await protocol.capability()


def parse_fetch(lines: Sequence[bytes | bytearray]) -> list[FetchedMail]:
    """(UID, raw message) pairs from a ``UID FETCH ... (UID BODY.PEEK[])`` response."""
    out: list[FetchedMail] = []
    i = 0
    while i < len(lines):
        line = bytes(lines[i]) if isinstance(lines[i], bytearray) else lines[i]
        if isinstance(lines[i], bytes) and _FETCH_HEAD.match(line) and _LITERAL.search(line) and i + 1 < len(lines):
            raw = bytes(lines[i + 1])
            uid_match = _UID.search(line)
            if uid_match is None and i + 2 < len(lines):
                uid_match = _UID.search(bytes(lines[i + 2]))
            if uid_match is not None:
                out.append(FetchedMail(int(uid_match.group(1)), raw))
            i += 2
            continue
        i += 1
    return out


def uid_set(uids: Sequence[int]) -> str:
    """Compact IMAP sequence set: 1:4,7,9:10."""
    ranges: list[str] = []
    ordered = sorted(set(uids))
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        ranges.append(f"{start}:{prev}" if start != prev else str(start))
        start = prev = uid
    ranges.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(ranges)


class ImapIngest:
    """Watches one mailbox folder and feeds new mail to its importer."""

    def __init__(self, importer: MailImporter, mailbox: MailboxSettings) -> None:
        self.importer = importer
        self.mailbox = mailbox
        self.uidvalidity: int | None = None
        self.mode = "starting"
        self.watch: ArrivalWatch | None = None

    async def run(self, task: SupervisedTask) -> None:
        """Read the mailbox until the link drops. With several instances, only the one that
        owns ``mailbox:<name>`` runs this (``core.ownership``, wired in ``channels.plugin``);
        it starts after the committed checkpoint, so a new owner imports nothing twice."""
        client = await connect(self.mailbox)
        self.watch = ArrivalWatch(client)
        try:
            await self._select(client)
            idle = self.mailbox.idle and client.has_capability("IDLE")
            self.mode = "idle" if idle else "polling"
            if self.mailbox.processed_folder:
                await client.create(self.mailbox.processed_folder)  # "already exists" is fine
                await self._move_committed(client)
            while True:
                if self.watch.lost.is_set():  # noticed while a command was answered: do not wait on a dead link
                    raise ImapError("connection lost")
                self.watch.arrived = False
                found = await self.catch_up(client)
                task.healthy(self.describe())
                if found or self.watch.arrived:
                    continue
                if idle:
                    await self._idle(client)
                else:
                    await self.importer.clock.sleep(self.mailbox.poll_interval)
        finally:
            if not self.watch.lost.is_set():
                try:
                    await asyncio.wait_for(client.logout(), 5)
                except Exception:  # the link may be gone without our noticing yet
                    pass
            close_transport(client)
            for pending in list(client.tasks):  # an IDLE the server never answered
                pending.cancel()

    def describe(self) -> str:
        imp = self.importer
        return (
            f"{self.mode}; uidvalidity {self.uidvalidity}; imported {imp.imported}, "
            f"duplicates {imp.duplicates}, quarantined {imp.quarantined}"
        )

    async def _select(self, client: aioimaplib.IMAP4) -> int:
        response = _check(await client.select(self.mailbox.folder), f"SELECT {self.mailbox.folder}")
        for line in response.lines:
            match = _UIDVALIDITY.search(bytes(line))
            if match:
                self.uidvalidity = int(match.group(1))
                break
        else:
            raise ImapError("server did not report UIDVALIDITY")
        cp = await self.importer.checkpoint()
        if cp is None or cp.uidvalidity != self.uidvalidity:
            if cp is not None:
                log.warning(
                    "mailbox %s: UIDVALIDITY changed %s -> %s; re-reading the folder (duplicates are skipped)",
                    self.mailbox.name, cp.uidvalidity, self.uidvalidity,
                )
            await self.importer.reset_checkpoint(self.uidvalidity)
        return self.uidvalidity

    async def _search_new(self, client: aioimaplib.IMAP4) -> list[int]:
        cp = await self.importer.checkpoint()
        last = cp.last_uid if cp is not None else 0
        response = _check(await client.uid_search(f"UID {last + 1}:*", charset=None), "UID SEARCH")
        uids: list[int] = []
        for line in response.lines[:-1]:  # aioimaplib strips the "SEARCH" word; the last line is the status
            tokens = bytes(line).split()
            if tokens and tokens[0] == b"SEARCH":
                tokens = tokens[1:]
            if all(t.isdigit() for t in tokens):
                uids.extend(int(t) for t in tokens)
        return sorted(u for u in uids if u > last)

    async def catch_up(self, client: aioimaplib.IMAP4) -> int:
        """Import everything after the checkpoint; returns how many messages were handled."""
        uids = await self._search_new(client)
        if not uids:
            return 0
        assert self.uidvalidity is not None
        batch = self.mailbox.fetch_batch
        chunks = [uids[i : i + batch] for i in range(0, len(uids), batch)]
        # Fetch the next chunk while the current one is being committed.
        # Fetch and parse the next chunk while the current one is being committed.
        next_fetch: asyncio.Task[tuple[list[FetchedMail], list[Parsed]]] | None = asyncio.create_task(
            self._fetch(client, chunks[0])
        )
        done = 0
        for index in range(len(chunks)):
            assert next_fetch is not None
            mails, parsed = await next_fetch
            next_fetch = asyncio.create_task(self._fetch(client, chunks[index + 1])) if index + 1 < len(chunks) else None
            results = await self.importer.ingest(self.uidvalidity, mails, parsed)
            done += len(results)
            if next_fetch is not None:
                await asyncio.wait({next_fetch})
            await self._after_commit(client, [m.uid for m in mails if m.uid is not None])
        return done

    async def _fetch(self, client: aioimaplib.IMAP4, uids: list[int]) -> tuple[list[FetchedMail], list[Parsed]]:
        response = _check(await client.uid("fetch", uid_set(uids), "(UID BODY.PEEK[])"), "UID FETCH")
        wanted = set(uids)
        mails = [m for m in parse_fetch(response.lines) if m.uid in wanted]
        mails.sort(key=lambda m: m.uid or 0)
        parsed = await self.importer.parser.parse([m.raw for m in mails], self.mailbox.max_message_bytes)
        return mails, parsed

    async def _after_commit(self, client: aioimaplib.IMAP4, uids: list[int]) -> None:
        if not uids:
            return
        members = uid_set(uids)
        _check(await client.uid("store", members, "+FLAGS.SILENT (\\Seen)"), "UID STORE")
        if self.mailbox.processed_folder:
            await self._move(client, members)

    async def _move_committed(self, client: aioimaplib.IMAP4) -> None:
        """After a restart: move what was committed but not yet moved (crash between the two)."""
        cp = await self.importer.checkpoint()
        if cp is not None and cp.last_uid > 0:
            await self._move(client, f"1:{cp.last_uid}")

    async def _move(self, client: aioimaplib.IMAP4, members: str) -> None:
        folder = self.mailbox.processed_folder
        assert folder
        if client.has_capability("MOVE"):
            _check(await client.uid("move", members, folder), "UID MOVE")
            return
        _check(await client.uid("copy", members, folder), "UID COPY")
        _check(await client.uid("store", members, "+FLAGS.SILENT (\\Deleted)"), "UID STORE")
        _check(await client.expunge(), "EXPUNGE")

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        assert self.watch is not None
        lost = asyncio.create_task(self.watch.lost.wait())
        try:
            # aioimaplib waits for the server's "+ idling" without a timeout: a link lost
            # just before or as IDLE is sent (a server restart) would leave it waiting forever.
            starting = asyncio.create_task(client.idle_start(timeout=IDLE_RENEW_SECONDS))
            await asyncio.wait({starting, lost}, timeout=self.mailbox.timeout, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                raise ImapError("connection lost as IDLE started" if lost.done() else "IDLE was not acknowledged")
            idle = starting.result()
            while True:
                push = asyncio.create_task(client.wait_server_push(timeout=IDLE_RENEW_SECONDS + 60))
                await asyncio.wait({push, lost}, return_when=asyncio.FIRST_COMPLETED)
                if lost.done():
                    push.cancel()
                    idle.cancel()
                    raise ImapError("connection lost while idle")
                lines = push.result()
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH or any(b"EXISTS" in bytes(line) for line in lines):
                    break
            client.idle_done()
            await asyncio.wait_for(idle, self.mailbox.timeout)
        finally:
            lost.cancel()
            if client.has_pending_idle() and not self.watch.lost.is_set():
                client.idle_done()  # stopping: end IDLE so LOGOUT is answered at once
