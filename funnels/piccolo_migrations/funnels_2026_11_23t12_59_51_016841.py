from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T12:59:51:016841"
VERSION = "1.38.0"
DESCRIPTION = "baseline of the funnels domain: later migrations build on it"


async def forwards() -> MigrationManager:
    return MigrationManager(migration_id=ID, app_name="funnels", description=DESCRIPTION)
