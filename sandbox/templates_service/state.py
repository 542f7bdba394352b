"""What the template service sandbox keeps: OAuth tokens and merchant accounts.

Templates, hosts, sites and publish jobs will be further fields here (each a dict by id
with a default factory), so state files written now keep loading after they arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.common.directory import Directory
from sandbox.common.oauth import OAuthState

STATE_VERSION = 1


@dataclass
class TemplatesState:
    version: int = STATE_VERSION
    oauth: OAuthState = field(default_factory=OAuthState)
    accounts: Directory = field(default_factory=Directory)
