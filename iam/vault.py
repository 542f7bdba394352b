"""The token vault: AES-256-GCM under a key ring, each ciphertext naming its key.

Keys rotate without downtime: put the new key first in VAULT_KEYS, keep the old ones
after it until `python -m onboarding rotate-keys` has re-encrypted everything.
Each ciphertext is bound to its purpose (associated data such as
"shop:demo.myshopify.com:access_token"), so a value copied into another row or column
does not decrypt.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = "v1"
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class VaultError(Exception):
    """A ciphertext could not be opened: unknown key, tampering or wrong purpose."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_key() -> str:
    return _b64encode(AESGCM.generate_key(bit_length=256))


@dataclass(frozen=True)
class KeyRing:
    """Key ids to 32-byte keys; the first one encrypts, all of them decrypt."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Reads `id:base64url-key,id2:key2` (newest first)."""
        keys: list[tuple[str, bytes]] = []
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            key_id, _, encoded = entry.partition(":")
            if not _KEY_ID.match(key_id) or not encoded:
                raise ValueError("each key must look like id:base64url-key")
            try:
                key = _b64decode(encoded)
            except ValueError:
                raise ValueError(f"key {key_id} is not base64url") from None
            if len(key) != 32:
                raise ValueError(f"key {key_id} must be 32 bytes (AES-256)")
            if any(existing == key_id for existing, _ in keys):
                raise ValueError(f"key id {key_id} appears twice")
            keys.append((key_id, key))
        if not keys:
            raise ValueError("at least one key is needed")
        return cls(tuple(keys))

    @property
    def current_key_id(self) -> str:
        return self.keys[0][0]

    def _key(self, key_id: str) -> bytes:
        for candidate, key in self.keys:
            if candidate == key_id:
                return key
        raise VaultError(f"no key with id {key_id!r} in the key ring")


class Vault:
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def encrypt(self, plaintext: str, purpose: str) -> str:
        key_id = self.ring.current_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.ring._key(key_id)).encrypt(nonce, plaintext.encode(), purpose.encode())
        return ".".join((FORMAT_VERSION, key_id, _b64encode(nonce), _b64encode(sealed)))

    def decrypt(self, ciphertext: str, purpose: str) -> str:
        try:
            version, key_id, nonce, sealed = ciphertext.split(".")
        except ValueError:
            raise VaultError("not a vault ciphertext") from None
        if version != FORMAT_VERSION:
            raise VaultError(f"unknown ciphertext version {version!r}")
        try:
            opened = AESGCM(self.ring._key(key_id)).decrypt(
                _b64decode(nonce), _b64decode(sealed), purpose.encode()
            )
        except (InvalidTag, ValueError):
            raise VaultError("ciphertext failed authentication") from None
        return opened.decode()

    def key_id_of(self, ciphertext: str) -> str:
        return ciphertext.split(".")[1]

    def needs_rotation(self, ciphertext: str) -> bool:
        return self.key_id_of(ciphertext) != self.ring.current_key_id

    def reencrypt(self, ciphertext: str, purpose: str) -> str:
        return self.encrypt(self.decrypt(ciphertext, purpose), purpose)
