"""Customers sign in to the help centre by a one-time link mailed to them: no passwords.

Why a link: a customer already proves who they are by reading their mail, so a password
would only be one more thing to leak. The link is mailed through the outbox only if a
customer has the address (the page says the same either way, so nobody learns who is a
customer); it works once, for ``LINK_MINUTES``, and only its hash is stored. Using it opens a
customer session, kept apart from staff logins (its own table and cookie): nothing a
customer holds is ever read by the staff identity check, so it cannot reach staff pages.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.base.i18n import translate
from channels.outgoing import MailServices, compose_outgoing
from channels.records import CustomerSession, CustomerSignInLink
from core.clock import as_utc
from core.customers import find_by_email, normalize_email
from core.errors import NotFound
from core.records import Customer

LINK_MINUTES = 30
SESSION_HOURS = 8
LINK_SUBJECT = "Your sign-in link"
LINK_BODY = ("Hello %(name)s,\n\nopen this link to see your requests (it works once, for %(minutes)s minutes):\n\n"
             "%(link)s\n\nIf you did not ask for it, ignore this mail.\n")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CustomerSignIn:
    """Mails sign-in links, trades a link for a session, and says whose a session is."""

    def __init__(self, deps: MailServices) -> None:
        self.db = deps.db
        self.clock = deps.clock
        self.domain = deps.domain
        self.on_outbox = deps.on_outbox

    async def mail_link(self, address: str, base_url: str, language: str | None) -> None:
        """Mail a link to the customer with ``address``; say nothing whether there is one."""
        try:
            address = normalize_email(address, "email")
        except Exception:  # an impossible address is no customer's: the page stays the same
            return
        now = self.clock.now()
        async with self.db.transaction() as session:
            customer = await find_by_email(session, address)
            if customer is None:
                return
            await session.execute(update(CustomerSignInLink).where(
                CustomerSignInLink.customer_id == customer.id, CustomerSignInLink.used_at.is_(None)).values(used_at=now))
            token = secrets.token_urlsafe(32)
            row = CustomerSignInLink(customer_id=customer.id, token_hash=_digest(token), address=address,
                                     created_at=now, expires_at=now + timedelta(minutes=LINK_MINUTES))
            session.add(row)
            await session.flush()
            speak = customer.language or language
            link = f"{base_url.rstrip('/')}/help/sign-in/{token}"
            queued = compose_outgoing(
                self.clock, ticket=None, recipient=address, subject=translate(speak, LINK_SUBJECT),
                body=translate(speak, LINK_BODY, name=customer.name or address, minutes=str(LINK_MINUTES), link=link),
                domain=self.domain, dedup_key=f"customer-sign-in:{row.id}",
                extra_headers={"Auto-Submitted": "auto-generated"}, payload={"kind": "customer-sign-in"},
            )
            session.add(queued.outbox)  # no message record: the link is not kept beyond its delivery
        if self.on_outbox:
            self.on_outbox()

    async def use_link(self, token: str) -> str:
        """The cookie value of a new customer session; the link is used up. ``NotFound`` when
        the link is unknown, used or expired."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            row = (await session.execute(select(CustomerSignInLink)
                                         .where(CustomerSignInLink.token_hash == _digest(token[:200])))).scalar()
            if row is None or row.used_at is not None or as_utc(row.expires_at) <= now:
                raise NotFound("this sign-in link is unknown, used or expired: ask for a new one")
            row.used_at = now
            await session.execute(delete(CustomerSession).where(CustomerSession.expires_at < now))
            cookie = secrets.token_urlsafe(32)
            session.add(CustomerSession(id=_digest(cookie), customer_id=row.customer_id, csrf_token=secrets.token_urlsafe(24),
                                        created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
        return cookie

    async def customer_of(self, session: AsyncSession, cookie: str) -> tuple[Customer, str] | None:
        """The signed-in customer and the session's CSRF token, or None."""
        if not cookie:
            return None
        row = await session.get(CustomerSession, _digest(cookie[:200]))
        if row is None or as_utc(row.expires_at) <= self.clock.now():
            return None
        customer = await session.get(Customer, row.customer_id)
        return (customer, row.csrf_token) if customer is not None else None

    async def sign_out(self, cookie: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(CustomerSession).where(CustomerSession.id == _digest(cookie[:200])))
