"""Tables of the onboarding domain."""

from piccolo.table import Table

TABLES: list[type[Table]] = []
