from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T20:17:00:473284"
VERSION = "1.38.0"
DESCRIPTION = "AdminSignInThrottle: failed admin sign-ins per account and per source; AdminUser drops its lockout columns"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="iam", description=DESCRIPTION
    )

    manager.add_table(
        class_name="AdminSignInThrottle",
        tablename="admin_sign_in_throttle",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="AdminSignInThrottle",
        tablename="admin_sign_in_throttle",
        column_name="key",
        db_column_name="key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 320,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AdminSignInThrottle",
        tablename="admin_sign_in_throttle",
        column_name="failures",
        db_column_name="failures",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AdminSignInThrottle",
        tablename="admin_sign_in_throttle",
        column_name="next_allowed_at",
        db_column_name="next_allowed_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AdminSignInThrottle",
        tablename="admin_sign_in_throttle",
        column_name="last_failure_at",
        db_column_name="last_failure_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.drop_column(
        table_class_name="AdminUser",
        tablename="admin_user",
        column_name="failed_logins",
        db_column_name="failed_logins",
        schema=None,
    )

    manager.drop_column(
        table_class_name="AdminUser",
        tablename="admin_user",
        column_name="locked_until",
        db_column_name="locked_until",
        schema=None,
    )

    return manager
