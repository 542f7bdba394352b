"""Tables of alerts: merchants' choice to get them, and every digest sent (what it said, when)."""

from enum import StrEnum

from piccolo.columns import JSON, Boolean, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AlertSetting(Table):
    """A shop's alert preference; no row means the default (alerts on)."""

    id: Serial  # added by Piccolo; declared for the type checker
    shop_domain = Varchar(length=255, null=False, unique=True)
    email_alerts = Boolean(null=False, default=True)
    updated_at = Timestamptz(null=False, default=TimestamptzNow())


class AlertAudience(StrEnum):
    MERCHANT = "merchant"  # one shop's owner
    OPERATORS = "operators"  # every admin user


class AlertDigest(Table):
    """One digest for one audience and period: claimed before it is sent, marked when sent.

    `digest_key` ("merchant:{shop}:{period start}", "operators:{period start}") is unique, so a
    period has one digest whatever retries; `items` keeps what it said (each with the key that
    stops the next digest from saying it again).
    """

    id: Serial  # added by Piccolo; declared for the type checker
    digest_key = Varchar(length=400, null=False, unique=True)
    audience = Varchar(length=16, null=False, choices=AlertAudience)
    shop_domain = Varchar(length=255, null=True, default=None, index=True)
    period_start = Timestamptz(null=False)
    recipients = Text(null=False, default="")
    subject = Varchar(length=300, null=False, default="")
    items = JSON(null=False, default="[]")  # [{"key", "title", "text"}]
    created_at = Timestamptz(null=False, default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


TABLES: list[type[Table]] = [AlertSetting, AlertDigest]
