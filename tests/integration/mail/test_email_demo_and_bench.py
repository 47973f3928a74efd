"""What `make demo` and `frontdesk bench email` use: sample mail without IMAP, replies into a local sink,
the benchmark's JSON, and each mailbox's health in /readyz."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

import pytest
from mail_fixtures import need_dovecot
from sqlalchemy import select

from channels import bench
from channels.demo import ingest_samples, start_demo_mail
from channels.plugin import EmailChannel
from config.app import build_services
from config.settings import Settings
from core.records import Ticket


async def test_the_demo_mails_become_tickets_and_their_acknowledgements_reach_the_sink(settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        demo_settings, sink = await start_demo_mail(settings, stack)
        services = build_services(demo_settings)
        try:
            results = await ingest_samples(services)
            assert [r.outcome for r in results] == ["imported"] * 3
            async with services.db.session() as session:
                subjects = sorted(t.subject for t in (await session.execute(select(Ticket))).scalars())
            assert subjects == ["Cannot log in to my account", "Factura incorrecta en mi pedido", "退款申请：订单还没有收到"]
            channel = EmailChannel(services)
            await channel.outbox.run_once()
            assert sorted(m.recipients[0] for m in sink.messages) == [
                "john.smith@example.com", "lucia.garcia@example.es", "wang.fang@example.cn"]
        finally:
            await services.db.close()


@pytest.mark.slow
def test_the_benchmark_prints_its_figures_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    need_dovecot()
    assert bench.main(["--json", "-n", "30", "--latency-samples", "3"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("emails", "emails_per_s", "latency_p95_ms", "duplicates", "lost", "threaded_correctly", "replies"):
        assert key in result
    assert result["emails"] == 30 and result["duplicates"] == 0 and result["lost"] == 0
    assert result["threaded_correctly"] == result["replies"]
