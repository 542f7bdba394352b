"""Tables of the identity and access domain."""

from piccolo.columns import Bytea, Serial, Timestamptz, Varchar
from piccolo.table import Table


class MerchantSession(Table):
    """Server-side session data; the browser holds only the random key in a cookie."""

    id: Serial  # added by Piccolo; declared for the type checker
    key = Varchar(length=128, unique=True, null=False)
    data = Bytea(null=False)
    expires_at = Timestamptz(null=True, default=None, index=True)
    # Which shop the session signed in, so uninstall can end every session of a shop.
    shop_domain = Varchar(length=255, null=True, index=True)


TABLES: list[type[Table]] = [MerchantSession]
