from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Varchar

ID = "2026-12-07T18:50:10:668343"
VERSION = "1.38.0"
DESCRIPTION = "PlanPrice.interval, Subscription.provider and status, ProviderObject.provider and kind as enums (choices): records the choices only, no SQL"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="billing", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="PlanPrice",
        tablename="plan_price",
        column_name="interval",
        db_column_name="interval",
        params={
            "choices": Enum("BillingInterval", {"MONTH": "month", "YEAR": "year"})
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Subscription",
        tablename="subscription",
        column_name="provider",
        db_column_name="provider",
        params={
            "choices": Enum(
                "ProviderName", {"SHOPIFY": "shopify", "STRIPE": "stripe"}
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Subscription",
        tablename="subscription",
        column_name="status",
        db_column_name="status",
        params={
            "choices": Enum(
                "SubscriptionStatus",
                {
                    "PENDING": "pending",
                    "ACTIVE": "active",
                    "TRIALING": "trialing",
                    "PAST_DUE": "past_due",
                    "UNPAID": "unpaid",
                    "FROZEN": "frozen",
                    "DECLINED": "declined",
                    "CANCELLED": "cancelled",
                    "EXPIRED": "expired",
                    "INCOMPLETE": "incomplete",
                    "PAUSED": "paused",
                },
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="ProviderObject",
        tablename="provider_object",
        column_name="provider",
        db_column_name="provider",
        params={
            "choices": Enum(
                "ProviderName", {"SHOPIFY": "shopify", "STRIPE": "stripe"}
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="ProviderObject",
        tablename="provider_object",
        column_name="kind",
        db_column_name="kind",
        params={
            "choices": Enum(
                "ProviderObjectKind",
                {"PRODUCT": "product", "PRICE": "price", "CUSTOMER": "customer"},
            )
        },
        old_params={"choices": None},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
