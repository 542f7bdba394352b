"""What the identity services raise when a shop cannot act yet, so callers can tell it apart."""

from __future__ import annotations


class AccountNotReady(Exception):
    """The shop's CRM or page-builder account is not set up yet (provisioning still runs, or failed)."""

    def __init__(self, shop_domain: str, system: str) -> None:
        super().__init__(f"{system} account of {shop_domain} is not set up yet")
        self.shop_domain = shop_domain
        self.system = system
