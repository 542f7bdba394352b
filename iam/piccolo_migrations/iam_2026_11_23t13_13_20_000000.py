from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T13:13:20:000000"
VERSION = "1.38.0"
DESCRIPTION = "one external account per shop and system"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="iam", description=DESCRIPTION)

    async def create_index() -> None:
        # Provisioning relies on this to stay idempotent under concurrent runs.
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE UNIQUE INDEX external_account_shop_system ON external_account (shop, system)"
        )

    manager.add_raw(create_index)
    return manager
