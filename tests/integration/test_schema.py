"""Migrations produce exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config.services import Services
from core.migrate import head_revision
from core.schema import include_name, metadata


async def test_migrated_schema_matches_the_models(services: Services) -> None:
    async with services.db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"include_name": include_name}), metadata)
        )
    assert diff == []


async def test_schema_is_at_head(services: Services) -> None:
    assert await services.db.schema_revision() == head_revision()
