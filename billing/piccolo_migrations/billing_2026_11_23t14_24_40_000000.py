from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T14:24:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "the free plan on the shared CRM tenant, for shops without a subscription"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="billing", description=DESCRIPTION)

    async def add_free_plan() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "INSERT INTO plan (code, name, description, trial_days, live_funnels_limit,"
            " synced_orders_limit, upsells_limit, archived, created_at, updated_at)"
            " VALUES ('free', 'Free (shared CRM)',"
            " 'One live funnel on the shared CRM tenant, for shops without a subscription.',"
            " 0, 1, 100, 1, false, '2026-11-23 14:24:40+00:00', '2026-11-23 14:24:40+00:00')"
        )
        await engine.run_ddl(
            "INSERT INTO plan_price (plan, amount_cents, currency, interval, current, created_at)"
            " SELECT id, 0, 'USD', 'month', true, '2026-11-23 14:24:40+00:00' FROM plan WHERE code = 'free'"
        )

    manager.add_raw(add_free_plan)
    return manager
