"""The console as the agent's phone: per-session SIP credentials for the browser softphone.

An agent whose user record has ``softphone`` takes calls in the console (JsSIP over a
WebSocket to Asterisk, WebRTC media). The page must never hold a long-lived SIP password,
so the server mints one per console session:

* Asterisk's PJSIP endpoint for the extension is configured by the company (a WebRTC
  endpoint template; see the README) and names its auth object ``<extension>-softphone``,
  which is *not* in ``pjsip.conf``. It lives in a file of its own (``pjsip_softphone.conf``,
  ``#include``d by ``pjsip.conf``) that only Frontdesk writes.
* When an agent's console asks for its phone, the server writes that auth object with a
  fresh random password through AMI ``UpdateConfig`` and has ``res_pjsip`` reload. AMI is
  the one channel to the PBX the product already has (no shared disk, no database of
  Asterisk's, works on a stock build); ``UpdateConfig`` edits the file on the PBX's side.
* Page loads within the same login session get the same credentials back (no reload per
  page); a new login replaces them, and log-out deletes the auth object, so the password
  stops working at once (an unknown auth rejects every REGISTER and INVITE).

What the browser receives is only good for that extension and that session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import re
import secrets
from urllib.parse import urlsplit

from core.auth import Actor
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.records import Role, User
from cti.control import PbxLine
from cti.errors import PbxRefused

log = logging.getLogger(__name__)

_EXTENSION = re.compile(r"^[A-Za-z0-9_.+-]{1,40}$")


def auth_name(extension: str) -> str:
    """The PJSIP auth object the company's endpoint names (``auth = 1006-softphone``)."""
    return f"{extension}-softphone"


@dataclasses.dataclass(frozen=True, slots=True)
class SoftphoneCredentials:
    """What one console session's browser phone registers with."""

    user_id: int
    extension: str
    password: str
    ws_url: str
    domain: str
    display_name: str
    session_key: str
    pbx: str

    def as_dict(self) -> dict[str, str | int]:
        return {
            "enabled": True, "extension": self.extension, "username": self.extension, "password": self.password,
            "uri": f"sip:{self.extension}@{self.domain}", "ws_url": self.ws_url,
            "display_name": self.display_name, "pbx": self.pbx,
        }


class SoftphoneCredentialService:
    """Issues and revokes the per-session SIP passwords (one auth object per agent)."""

    def __init__(self, lines: dict[str, PbxLine], db: Database) -> None:
        self.lines = lines
        self.db = db
        self.issued: dict[int, SoftphoneCredentials] = {}
        self._lock = asyncio.Lock()  # one UpdateConfig at a time: each rewrites the same file

    def line(self) -> PbxLine | None:
        """The PBX browsers register with: the first one with a softphone WebSocket URL."""
        return next((line for line in self.lines.values() if line.settings.softphone_ws_url), None)

    def ws_urls(self) -> list[str]:
        """Where browsers connect (the page's Content-Security-Policy allows exactly these)."""
        return [line.settings.softphone_ws_url for line in self.lines.values() if line.settings.softphone_ws_url]

    @staticmethod
    def session_key(session_secret: str) -> str:
        """A stable name for a console session that does not repeat the secret it came from."""
        return hashlib.sha256(session_secret.encode()).hexdigest()[:32]

    async def _softphone_user(self, actor: Actor) -> User | None:
        actor.require(Role.AGENT)
        if actor.user_id is None:
            return None
        async with self.db.session() as session:
            user = await session.get(User, actor.user_id)
        if user is None or not user.active or not user.softphone or not user.extension:
            return None
        if not _EXTENSION.fullmatch(user.extension):
            raise InvalidInput("this user's extension cannot name a PBX endpoint", {"extension": user.extension})
        return user

    async def open(self, actor: Actor, session_key: str) -> SoftphoneCredentials | None:
        """The credentials of this console session (issued on its first page); None for a user
        with a desk phone. Raises ``NotFound`` when no PBX has a softphone WebSocket URL."""
        user = await self._softphone_user(actor)
        if user is None:
            return None
        line = self.line()
        if line is None:
            raise NotFound("no PBX is set up for browser phones (softphone_ws_url)")
        async with self._lock:
            held = self.issued.get(user.id)
            if held is not None and held.session_key == session_key and held.extension == user.extension:
                return held
            ws_url = line.settings.softphone_ws_url or ""
            credentials = SoftphoneCredentials(
                user.id, user.extension or "", secrets.token_urlsafe(24), ws_url,
                line.settings.softphone_domain or urlsplit(ws_url).hostname or "localhost",
                user.display_name, session_key, line.settings.name,
            )
            await self._write_auth(line, credentials.extension, credentials.password)
            self.issued[user.id] = credentials
            return credentials

    async def revoke(self, user_id: int) -> None:
        """Log-out: the session's password stops working (the auth object is deleted)."""
        async with self._lock:
            held = self.issued.pop(user_id, None)
            if held is None:
                return
            line = self.lines.get(held.pbx)
            if line is None:
                return
            await self._delete_auth(line, held.extension, reload=True)

    async def _write_auth(self, line: PbxLine, extension: str, password: str) -> None:
        await self._delete_auth(line, extension, reload=False)
        name = auth_name(extension)
        fields = [("type", "auth"), ("auth_type", "userpass"), ("username", extension), ("password", password)]
        headers: dict[str, str] = {
            "SrcFilename": line.settings.softphone_auth_file, "DstFilename": line.settings.softphone_auth_file,
            "Reload": "res_pjsip.so", "Action-000000": "NewCat", "Cat-000000": name,
        }
        for n, (var, value) in enumerate(fields, start=1):
            headers |= {f"Action-{n:06d}": "Append", f"Cat-{n:06d}": name, f"Var-{n:06d}": var, f"Value-{n:06d}": value}
        await line.link.action("UpdateConfig", headers)

    async def _delete_auth(self, line: PbxLine, extension: str, reload: bool) -> None:
        """Remove the auth object if the file has it (a refusal means it was not there)."""
        headers = {
            "SrcFilename": line.settings.softphone_auth_file, "DstFilename": line.settings.softphone_auth_file,
            "Reload": "res_pjsip.so" if reload else None, "Action-000000": "DelCat", "Cat-000000": auth_name(extension),
        }
        try:
            await line.link.action("UpdateConfig", headers)
        except PbxRefused:
            pass

    async def close(self) -> None:
        """Server shutdown: no password outlives the process that handed it out."""
        for user_id in list(self.issued):
            try:
                await self.revoke(user_id)
            except Exception:  # the PBX may already be gone; the next login replaces the password anyway
                log.warning("softphone credentials of user %s not revoked at shutdown", user_id, exc_info=True)
