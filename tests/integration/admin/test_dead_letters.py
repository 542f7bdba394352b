"""Admin: dead letters are listed and replayed, and the replay is audited."""

from __future__ import annotations

import re

import httpx
import pytest

from jobqueue.jobs import enqueue
from jobqueue.tables import Job
from tests.support.admin_area import post, signed_in_admin

pytestmark = pytest.mark.postgres


async def test_dead_letters_page_lists_and_replays(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    job_id = await enqueue("iam.provision_account", {"system": "crm"}, shop_domain="a.myshopify.com")
    await Job.update({Job.status: "dead", Job.last_error: "CRM answered 500"}).where(Job.id == job_id)
    page = await client.get("/admin/dead-letters")
    assert "CRM answered 500" in page.text
    replayed = await post(client, f"/admin/dead-letters/{job_id}/replay", {})
    assert replayed.status_code == 303
    assert (await Job.select(Job.status).where(Job.id == job_id).first()) == {"status": "queued"}
    audit = await client.get("/admin/audit")
    assert re.search(r"job\.replay</code>\s*" + str(job_id), audit.text)
