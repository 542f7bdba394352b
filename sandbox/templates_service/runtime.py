"""The running template service sandbox."""

from __future__ import annotations

from typing import ClassVar

from sandbox.common.directory import Directory
from sandbox.common.members import MemberSandbox
from sandbox.templates_service.config import TemplatesSandboxConfig
from sandbox.templates_service.state import STATE_VERSION, Site, TemplatesState


class TemplatesSandbox(MemberSandbox[TemplatesState]):
    STATE_VERSION: ClassVar[int] = STATE_VERSION
    config: TemplatesSandboxConfig

    def __init__(self, config: TemplatesSandboxConfig) -> None:
        super().__init__(config)

    def new_state(self) -> TemplatesState:
        return TemplatesState()

    def state_type(self) -> type[TemplatesState]:
        return TemplatesState

    def directory(self) -> Directory:
        return self.state.accounts

    def take_seq(self) -> int:
        seq = self.state.next_seq
        self.state.next_seq += 1
        return seq

    def site(self, owner_id: str, site_id: str) -> Site | None:
        site = self.state.sites.get(site_id)
        return site if site is not None and site.owner_id == owner_id else None
