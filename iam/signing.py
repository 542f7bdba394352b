"""The app's own signing key (RFC 7523 assertions) and the JWKS that publishes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey


def load_or_create_signing_key(path: Path, *, create: bool) -> ECKey:
    """Reads the PEM private key; in development it is created on first use."""
    if path.exists():
        return ECKey.import_key(path.read_bytes())
    if not create:
        raise FileNotFoundError(f"signing key {path} does not exist")
    key = ECKey.generate_key("P-256", private=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(key.as_pem(private=True))
    return key


def jwks(*keys: ECKey) -> dict[str, Any]:
    return {
        "keys": [
            {**key.as_dict(private=False), "kid": key.thumbprint(), "use": "sig", "alg": "ES256"}
            for key in keys
        ]
    }
