"""With a state file, members, tokens and used assertions survive a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from sandbox.common.clock import ManualClock
from sandbox.crm import CrmSandboxConfig, create_crm_sandbox
from tests.integration.sandbox_crm.sandbox_crm_support import (
    AppKey,
    Harness,
    bearer,
    running_crm,
    running_templates,
)

Runner = Callable[..., AbstractAsyncContextManager[Harness]]
RUNNERS = pytest.mark.parametrize("runner", [running_crm, running_templates], ids=["crm", "templates"])


@RUNNERS
async def test_members_and_tokens_survive_a_restart(runner: Runner, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    key, clock = AppKey(), ManualClock()
    async with runner(state_file=state_file, key=key, clock=clock) as before:
        app_token = await before.app_token()
        member = await before.new_member()
        user_token = await before.user_token(member["id"])
    async with runner(state_file=state_file, key=key, clock=clock) as after:
        listed = await after.http.get(f"/api/v1/{after.resource}", headers=bearer(app_token))
        assert [m["id"] for m in listed.json()["data"]] == [member["id"]]
        own = await after.http.get(f"/api/v1/{after.resource}/{member['id']}", headers=bearer(user_token))
        assert own.status_code == 200
        again = await after.create_member(app_token)
        assert again.status_code == 409
        assert again.json()["existing_id"] == member["id"]


@RUNNERS
async def test_used_jti_stays_used_after_a_restart(runner: Runner, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    key, clock = AppKey(), ManualClock()
    async with runner(state_file=state_file, key=key, clock=clock) as before:
        member = await before.new_member()
        assertion = before.assertion_for(member["id"])
        assert (await before.jwt_bearer(assertion)).status_code == 200
    async with runner(state_file=state_file, key=key, clock=clock) as after:
        replay = await after.jwt_bearer(assertion)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"


@RUNNERS
async def test_state_file_holds_no_access_tokens(runner: Runner, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    async with runner(state_file=state_file) as sandbox:
        token = await sandbox.app_token()
    assert token not in state_file.read_text()


async def test_state_file_is_written_at_start(tmp_path: Path) -> None:
    state_file = tmp_path / "nested" / "crm.json"
    async with running_crm(state_file=state_file):
        assert json.loads(state_file.read_text())["version"] == 1


def test_state_file_of_another_version_is_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "crm.json"
    state_file.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        create_crm_sandbox(CrmSandboxConfig(state_file=state_file))
