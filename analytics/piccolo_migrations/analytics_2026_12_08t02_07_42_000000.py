from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-08T02:07:42:000000"
VERSION = "1.38.0"
DESCRIPTION = "Analytics: the shop day index, and the shop days of the funnel days already rolled up"

# The overview reads a shop's days over a range: one index covers every column it reads.
# A raw step runs before a migration's table changes, hence a migration of its own (after the
# one that adds shop_day). The funnel days rolled up before it are summed in, so the overview's
# totals stay the sum of its funnels'.
INDEX = "shop_day_shop_day"
BACKFILL = (
    "INSERT INTO shop_day (shop_domain, day, rollup_key, visits, page_views, orders, revenue_cents)"
    " SELECT shop_domain, day, shop_domain || ':' || CAST(day AS TEXT), SUM(visits), SUM(page_views),"
    " SUM(orders), SUM(revenue_cents) FROM funnel_day GROUP BY shop_domain, day"
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="analytics", description=DESCRIPTION)

    async def add_index_and_backfill() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            f"CREATE INDEX IF NOT EXISTS {INDEX}"
            " ON shop_day (shop_domain, day, visits, page_views, orders, revenue_cents)"
        )
        await engine.run_ddl(BACKFILL)

    async def drop_index() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(f"DROP INDEX IF EXISTS {INDEX}")
        await engine.run_ddl("DELETE FROM shop_day")

    manager.add_raw(add_index_and_backfill)
    manager.add_raw_backwards(drop_index)
    return manager
