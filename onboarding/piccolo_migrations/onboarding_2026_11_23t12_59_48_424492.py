from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T12:59:48:424492"
VERSION = "1.38.0"
DESCRIPTION = "baseline of the onboarding domain: later migrations build on it"


async def forwards() -> MigrationManager:
    return MigrationManager(migration_id=ID, app_name="onboarding", description=DESCRIPTION)
