"""The ``cluster:`` section: what an operator gets wrong is refused with its key path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.app import build_bus
from config.settings import ConfigError, load_settings
from core.cluster_bus import ClusterBus
from core.events import InProcessBus
from core.health import HealthRegistry

PG = "postgresql+asyncpg://frontdesk@db.example.com/frontdesk"
SECRET = "x" * 40


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "frontdesk.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    return err.value.problems


def test_by_default_an_instance_is_named_after_its_host_and_process_and_sqlite_stays_local() -> None:
    settings = load_settings(None)
    assert settings.cluster.instance_id.endswith(f"-{os.getpid()}")
    assert settings.cluster.chosen_backend(settings.database_url) == "local"
    assert isinstance(build_bus(settings, HealthRegistry()), InProcessBus)


def test_postgresql_carries_events_unless_redis_is_configured() -> None:
    on_pg = load_settings(None, database_url=PG, web={"secret_key": SECRET})
    bus = build_bus(on_pg, HealthRegistry())
    assert isinstance(bus, ClusterBus) and bus.transport.backend == "postgresql"
    with_redis = load_settings(None, database_url=PG, web={"secret_key": SECRET},
                               cluster={"redis_url": "redis://cache:6379/0", "instance_id": "web-1"})
    bus = build_bus(with_redis, HealthRegistry())
    assert isinstance(bus, ClusterBus) and bus.transport.backend == "redis" and bus.instance_id == "web-1"
    assert load_settings(None, database_url=PG, cluster={"backend": "postgres"}).cluster.backend == "postgresql"
    alone = load_settings(None, database_url=PG, cluster={"backend": "local"})
    assert isinstance(build_bus(alone, HealthRegistry()), InProcessBus)


def test_what_cannot_work_is_refused_with_its_key(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "cluster:\n  instance_id: 'web 1'\n  backend: zookeeper\n  redis_url: http://cache\n")
    assert any(p.startswith("cluster.instance_id:") for p in problems)
    assert any(p.startswith("cluster.backend:") for p in problems)
    assert any(p.startswith("cluster.redis_url:") and "redis://" in p for p in problems)
    problems = _problems(tmp_path, "cluster:\n  backend: postgresql\n")  # on SQLite
    assert any(p.startswith("cluster.backend: postgresql needs a PostgreSQL database_url") for p in problems)
    problems = _problems(tmp_path, f"database_url: {PG}\nweb:\n  secret_key: {SECRET}\ncluster:\n  backend: redis\n")
    assert problems == ["cluster.backend: redis needs cluster.redis_url"]


def test_the_environment_sets_the_cluster_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_CLUSTER__INSTANCE_ID", "web-7")
    monkeypatch.setenv("FRONTDESK_CLUSTER__REDIS_URL", "redis://cache:6379/2")
    settings = load_settings(None, database_url=PG)
    assert settings.cluster.instance_id == "web-7"
    assert settings.cluster.chosen_backend(settings.database_url) == "redis"
    assert "cache:6379" not in repr(settings.cluster)  # a URL may carry a password
