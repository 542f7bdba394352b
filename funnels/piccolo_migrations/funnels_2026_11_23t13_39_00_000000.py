from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T13:39:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one publish step per funnel and name; upsells by funnel"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="funnels", description=DESCRIPTION)

    async def create_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        # The saga's idempotence rests on this: a step row is created once per funnel.
        await engine.run_ddl("CREATE UNIQUE INDEX publish_step_funnel_name ON publish_step (funnel, name)")
        await engine.run_ddl("CREATE INDEX upsell_funnel ON upsell (funnel, position)")

    manager.add_raw(create_indexes)
    return manager
