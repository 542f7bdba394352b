from pathlib import Path

from piccolo.conf.apps import AppConfig

from alerts.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="alerts",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=[],
    commands=[],
)
