"""``frontdesk demo``: the server on SQLite with sample people, customers and tickets.

Each feature adds its demo pieces (the AMI simulator, sample mails, a short SLA
policy) in ``demo_extras``; everything runs on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from contextlib import AsyncExitStack
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from alerts.demo import with_sla_demo
from channels.demo import ingest_samples, start_demo_mail
from config.access_log import RedactingAccessLogger
from config.app import build_app, build_services
from config.services import Services
from config.settings import ConfigError, Settings, load_settings
from config.startup_errors import listening
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.migrate import upgrade
from core.records import User
from core.users import add_user
from knowledge import import_samples

log = logging.getLogger(__name__)

DEMO_PASSWORD = "frontdesk-demo"
# Staff with addresses and (fictional, 555-01xx) mobiles: the demo's SLA escalations reach them,
# as email to the demo's mail sink and SMS to its SMS sink, and the tickets' timelines say so.
DEMO_USERS: list[dict[str, Any]] = [
    {
        "login": "alice",
        "display_name": "Alice Chen",
        "roles": ["agent"],
        "extension": "1001",
        "email": "alice@staff.example",
        "mobile": "+15555550101",
        "language": "en",
    },
    {
        "login": "bob",
        "display_name": "Bob Li",
        "roles": ["agent"],
        "extension": "1002",
        "email": "bob@staff.example",
        "mobile": "+15555550102",
        "language": "zh_CN",
    },
    {
        "login": "carol",
        "display_name": "Carol Díaz",
        "roles": ["agent"],
        "extension": "1003",
        "email": "carol@staff.example",
        "mobile": "+15555550103",
        "language": "en",
    },
    {
        "login": "sue",
        "display_name": "Sue Wang",
        "roles": ["supervisor"],
        "extension": "1004",
        "email": "sue@staff.example",
        "mobile": "+15555550104",
        "language": "en",
    },
    {"login": "otto", "display_name": "Otto Ops", "roles": ["ops", "admin"], "language": "en", "email": "otto@staff.example"},
]
DEMO_CUSTOMERS: list[CustomerDraft] = [
    CustomerDraft(
        "张伟 Zhang Wei", ["+8613800138000"], ["zhang.wei@example.cn"], "vip", "zh", ["wholesale"]
    ),
    CustomerDraft("李娜 Li Na", ["+8613912345678"], ["li.na@example.cn"], "standard", "zh"),
    CustomerDraft(
        "John Smith", ["+14155550123"], ["john.smith@example.com"], "standard", "en", ["reseller"]
    ),
    CustomerDraft("Jane Doe", ["+447700900123"], ["jane.doe@example.co.uk"], "new", "en"),
    # The sample mails come from these three, so their calls pop with their email history.
    CustomerDraft("王芳 Wang Fang", ["+8613600136000"], ["wang.fang@example.cn"], "standard", "zh"),
    CustomerDraft("Lucía García", ["+34600123456"], ["lucia.garcia@example.es"], "vip", "es"),
]


async def seed(services: Services) -> bool:
    """Load sample data into an empty database; return False when it already has users."""
    async with services.db.session() as session:
        if (await session.execute(select(func.count()).select_from(User))).scalar():
            return False
    system = Actor.system()
    async with services.db.transaction() as session:
        for spec in DEMO_USERS:
            await add_user(session, password=DEMO_PASSWORD, **spec)
        for draft in DEMO_CUSTOMERS:
            await create_customer(session, system, draft)
        await import_samples(session, services.renderer, system)
    # Sample customer mails (Chinese, English, Spanish) through the real ingest pipeline.
    await ingest_samples(services)
    return True


async def demo_extras(settings: Settings, stack: AsyncExitStack) -> Settings:
    """Start the features' demo companions and return settings pointing at them."""
    settings, _sink = await start_demo_mail(settings, stack)
    settings = with_sla_demo(settings)  # a 3-minute policy; SMS to an in-process sink
    settings = await _demo_pbx(settings, stack)
    # New mail is offered to agents who chose "Take new work" (least busy first), as a helpdesk would.
    strategies = {"email": "least_busy", **settings.routing.queue_strategies}
    return settings.model_copy(update={"routing": settings.routing.model_copy(update={"queue_strategies": strategies})})


async def _demo_pbx(settings: Settings, stack: AsyncExitStack) -> Settings:
    """No PBX configured: a simulated one on loopback calls the demo agents every 30 s."""
    if settings.pbx:
        return settings
    from cti.demo_pbx import start_demo_simulator
    from cti.settings import PbxSettings

    # The sample customers' numbers, and one unknown caller (the pop offers "create customer").
    callers = [phone for draft in DEMO_CUSTOMERS for phone in draft.phones] + ["+8613700001111"]
    agents = [f"PJSIP/{u['extension']}" for u in DEMO_USERS if u.get("extension")]
    pbx = await start_demo_simulator(
        "127.0.0.1", 0, "demo", "demo-secret", interval_s=30.0, callers=callers, agent_interfaces=agents
    )
    stack.push_async_callback(pbx.close)
    log.info("simulated PBX on 127.0.0.1:%d rings %s", pbx.simulator.port, ", ".join(agents))
    link = PbxSettings.model_validate(
        {"name": "demo", "port": pbx.simulator.port, "username": "demo", "secret": "demo-secret", "md5_auth": True}
    )
    return settings.model_copy(update={"pbx": [link]})


DEMO_DATABASE = "sqlite+aiosqlite:///var/demo.db"


def demo_settings(args: argparse.Namespace) -> Settings:
    """The demo's settings: ``--database`` wins; else a config file's (or the environment's)
    database; only with neither does the demo use its own SQLite file."""
    configured = bool(args.config or os.environ.get("FRONTDESK_CONFIG") or os.environ.get("FRONTDESK_DATABASE_URL"))
    database = args.database or (None if configured else DEMO_DATABASE)
    try:
        return load_settings(args.config, **({"database_url": database} if database else {}))
    except ConfigError as exc:
        raise SystemExit("configuration is invalid:\n  " + "\n  ".join(exc.problems)) from None


async def _serve(args: argparse.Namespace) -> None:
    settings = demo_settings(args)
    # Links in the demo's alerts and mails point at where it listens (unless base_url says otherwise).
    settings = settings.model_copy(update={"web": settings.web.model_copy(update={"host": "127.0.0.1", "port": args.port})})
    async with AsyncExitStack() as stack:
        settings = await demo_extras(settings, stack)
        services = build_services(settings)
        if await seed(services):
            log.info("sample data loaded")
        app = build_app(settings, services)
        runner = web.AppRunner(app, access_log_class=RedactingAccessLogger)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", args.port)
            with listening("127.0.0.1", args.port, "frontdesk demo"):
                await site.start()
            print(f"\nFrontdesk demo is running at http://127.0.0.1:{args.port}/", flush=True)
            print(
                f"Log in as alice (agent), sue (supervisor) or otto (ops), password: {DEMO_PASSWORD}",
                flush=True,
            )
            print("Press Ctrl+C to stop.\n", flush=True)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def run_demo(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The local mail sink's server logs a dozen lines per SMTP command; the sink itself logs
    # one line per mail (to, subject), which is what someone trying the demo wants to see.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    settings = demo_settings(args)
    upgrade(settings.database_url)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    return 0
