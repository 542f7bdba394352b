"""Tables of the sync domain."""

from piccolo.table import Table

TABLES: list[type[Table]] = []
