"""Tables of the funnels domain."""

from piccolo.table import Table

TABLES: list[type[Table]] = []
