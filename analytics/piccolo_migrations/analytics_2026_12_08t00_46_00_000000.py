from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-08T00:46:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Analytics: composite indexes the pages and the rollup job read by"

# The pages read a funnel's (or a shop's) rollups over a range of days: the indexes cover every
# column those queries read, so they are answered from the index alone. The rollup job reads a
# funnel's events and orders of one day.
FIGURES = "visits, page_views, orders, revenue_cents"
OFFER_FIGURES = "views, accepts, declines, orders, revenue_cents"
INDEXES = {
    "funnel_day_funnel_day": f"funnel_day (funnel_id, day, shop_domain, variant, {FIGURES})",
    "funnel_day_shop_day": f"funnel_day (shop_domain, day, funnel_id, {FIGURES})",
    "offer_day_funnel_day": f"offer_day (funnel_id, day, shop_domain, variant, offer, product, {OFFER_FIGURES})",
    "traffic_event_funnel_occurred": "traffic_event (funnel_id, occurred_at)",
    "order_fact_funnel_day": "order_fact (funnel_id, day)",
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="analytics", description=DESCRIPTION)

    async def add_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        for name, target in INDEXES.items():
            await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    async def drop_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        for name in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
