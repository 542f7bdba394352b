from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T15:37:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (shop, month) and (shop, month, order) for synced order counting"

# Piccolo's composite Unique constraint is added with ALTER TABLE ... ADD CONSTRAINT,
# which SQLite lacks; a unique index does the same on both engines.
INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS synced_order_month_shop_period"
    " ON synced_order_month (shop_domain, period)",
    "CREATE UNIQUE INDEX IF NOT EXISTS synced_order_claim_shop_period_order"
    " ON synced_order_claim (shop_domain, period, order_key)",
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="billing", description=DESCRIPTION)

    async def add_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in INDEXES:
            await engine.run_ddl(statement)

    async def drop_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        for name in ("synced_order_month_shop_period", "synced_order_claim_shop_period_order"):
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
