"""Tables of the billing domain."""

from piccolo.table import Table

TABLES: list[type[Table]] = []
