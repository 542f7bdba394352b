"""The vendored files are exactly the pinned releases the templates claim."""

from __future__ import annotations

import base64
import hashlib

import pytest

from onboarding.static_assets import STATIC_DIR, VENDORED_ASSETS, VendoredAsset


@pytest.mark.parametrize("asset", VENDORED_ASSETS, ids=lambda asset: asset.path)
def test_vendored_file_matches_its_integrity_hash(asset: VendoredAsset) -> None:
    digest = hashlib.sha384((STATIC_DIR / asset.path).read_bytes()).digest()
    assert asset.integrity == "sha384-" + base64.b64encode(digest).decode()


def test_htmx_is_a_2_0_release() -> None:
    htmx = next(asset for asset in VENDORED_ASSETS if "htmx" in asset.path)
    assert 'version:"2.0.' in (STATIC_DIR / htmx.path).read_text().replace(" ", "")
