"""Every table is accounted for by the privacy rules (docs/privacy.md): shop/redact deletes it,
keeps it on purpose, or it holds nothing of a shop. A new table fails here until its domain's
privacy module says which."""

from __future__ import annotations

from types import ModuleType

from piccolo.apps.migrations.tables import Migration
from piccolo.columns import ForeignKey
from piccolo.table import Table

from alerts import privacy as alerts_privacy
from analytics import privacy as analytics_privacy
from billing import privacy as billing_privacy
from funnels import privacy as funnels_privacy
from iam import privacy as iam_privacy
from iam.tables import Shop
from jobqueue import privacy as jobqueue_privacy
from onboarding.database import all_tables, app_registry
from sync import privacy as sync_privacy

DOMAINS: list[ModuleType] = [
    alerts_privacy,
    funnels_privacy,
    analytics_privacy,
    sync_privacy,
    billing_privacy,
    iam_privacy,
    jobqueue_privacy,
]
SHOP_COLUMNS = {"shop_domain", "domain", "local_id"}


def declared(name: str) -> list[type[Table]]:
    return [table for module in DOMAINS for table in getattr(module, name, ())]


def test_every_table_is_forgotten_kept_or_free_of_shop_data() -> None:
    tables = [table for table in all_tables(app_registry()) if table is not Migration]
    lists = [declared("SHOP_TABLES_FORGOTTEN"), declared("SHOP_TABLES_KEPT"), declared("NO_SHOP_DATA")]
    decided = [table for tables_of_a_rule in lists for table in tables_of_a_rule]
    assert sorted(decided, key=str) == sorted(set(decided), key=str), "a table has two rules"
    assert {table._meta.tablename for table in tables} == {table._meta.tablename for table in decided}


def test_a_table_naming_a_shop_is_not_declared_free_of_shop_data() -> None:
    for table in declared("NO_SHOP_DATA"):
        names = {column._meta.name for column in table._meta.columns}
        assert not names & SHOP_COLUMNS, table
        assert not any(
            isinstance(column, ForeignKey) and column._foreign_key_meta.resolved_references is Shop
            for column in table._meta.columns
        ), table


def test_each_domain_forgets_its_own_tables() -> None:
    for module in DOMAINS:
        package = module.__name__.split(".")[0]
        for table in [
            *getattr(module, "SHOP_TABLES_FORGOTTEN", ()),
            *getattr(module, "SHOP_TABLES_KEPT", ()),
        ]:
            assert table.__module__ == f"{package}.tables", (module.__name__, table)
