"""The token vault: AES-GCM under a rotating key ring, ciphertexts bound to their purpose."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iam.vault import KeyRing, Vault, VaultError, generate_key

OLD = f"old:{generate_key()}"
NEW = f"new:{generate_key()}"


@given(secret=st.text(max_size=500), purpose=st.text(min_size=1, max_size=80))
def test_round_trip_returns_the_secret(secret: str, purpose: str) -> None:
    vault = Vault(KeyRing.parse(NEW))
    sealed = vault.encrypt(secret, purpose)
    assert vault.decrypt(sealed, purpose) == secret


def test_ciphertext_never_contains_the_secret_and_differs_each_time() -> None:
    vault = Vault(KeyRing.parse(NEW))
    first = vault.encrypt("shpat_0123456789abcdef", "shop:a:access_token")
    second = vault.encrypt("shpat_0123456789abcdef", "shop:a:access_token")
    assert "shpat" not in first
    assert first != second
    assert first.split(".")[1] == "new"


def test_value_moved_to_another_purpose_does_not_open() -> None:
    vault = Vault(KeyRing.parse(NEW))
    sealed = vault.encrypt("token-of-shop-a", "shop:a.myshopify.com:access_token")
    with pytest.raises(VaultError):
        vault.decrypt(sealed, "shop:b.myshopify.com:access_token")


def test_tampered_ciphertext_is_refused() -> None:
    vault = Vault(KeyRing.parse(NEW))
    version, key_id, nonce, sealed = vault.encrypt("secret", "p").split(".")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(VaultError):
        vault.decrypt(".".join((version, key_id, nonce, flipped)), "p")


def test_rotation_keeps_old_ciphertexts_readable_and_reencrypts_under_the_newest_key() -> None:
    sealed_with_old = Vault(KeyRing.parse(OLD)).encrypt("refresh-token", "p")
    rotated_vault = Vault(KeyRing.parse(f"{NEW},{OLD}"))
    assert rotated_vault.decrypt(sealed_with_old, "p") == "refresh-token"
    assert rotated_vault.needs_rotation(sealed_with_old)
    resealed = rotated_vault.reencrypt(sealed_with_old, "p")
    assert rotated_vault.key_id_of(resealed) == "new"
    assert not rotated_vault.needs_rotation(resealed)
    with pytest.raises(VaultError):
        Vault(KeyRing.parse(OLD)).decrypt(resealed, "p")


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "nokey",
        "k:",
        "k:tooshort",
        f"k:{generate_key()},k:{generate_key()}",
        f"bad id:{generate_key()}",
    ],
)
def test_malformed_key_ring_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"key"):
        KeyRing.parse(spec)
