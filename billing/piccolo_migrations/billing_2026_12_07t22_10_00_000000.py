from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T22:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "two paid plans, so a fresh install has something to upgrade to (admins edit or archive them)"

# (code, name, description, trial days, live funnels, synced orders a month, upsells, price in cents)
PLANS = (
    (
        "launch",
        "Launch",
        "Three live funnels with up to three upsells each, and 1,000 synced orders a month.",
        14,
        3,
        1000,
        3,
        1900,
    ),
    (
        "scale",
        "Scale",
        "Ten live funnels with up to five upsells each, and 10,000 synced orders a month.",
        14,
        10,
        10000,
        5,
        4900,
    ),
)
SEEDED_AT = "2026-12-07 22:10:00+00:00"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="billing", description=DESCRIPTION)

    async def add_paid_plans() -> None:
        engine = engine_finder()
        assert engine is not None
        for code, name, description, trial, funnels, orders, upsells, cents in PLANS:
            # An admin may already have made a plan with this code: theirs stays as it is.
            await engine.run_ddl(
                "INSERT INTO plan (code, name, description, trial_days, live_funnels_limit,"
                " synced_orders_limit, upsells_limit, archived, created_at, updated_at)"
                f" SELECT '{code}', '{name}', '{description}', {trial}, {funnels}, {orders}, {upsells},"
                f" false, '{SEEDED_AT}', '{SEEDED_AT}'"
                f" WHERE NOT EXISTS (SELECT 1 FROM plan WHERE code = '{code}')"
            )
            await engine.run_ddl(
                "INSERT INTO plan_price (plan, amount_cents, currency, interval, current, created_at)"
                f" SELECT id, {cents}, 'USD', 'month', true, '{SEEDED_AT}' FROM plan"
                f" WHERE code = '{code}' AND NOT EXISTS"
                " (SELECT 1 FROM plan_price WHERE plan_price.plan = plan.id)"
            )

    manager.add_raw(add_paid_plans)
    return manager
