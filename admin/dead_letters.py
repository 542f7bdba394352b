"""Admin: jobs that gave up (dead letters), with a replay."""

from __future__ import annotations

from litestar import get, post
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin.pages import AdminEmail, AdminPages, admin_page
from iam.admin import record_audit
from jobqueue.jobs import dead_letters, replay_dead_letter
from jobqueue.tables import JobStatus


class AdminDeadLettersController(AdminPages):
    @get("/dead-letters")
    async def letters(self, admin: AdminEmail) -> Template:
        return admin_page("dead_letters", admin, letters=await dead_letters())

    @post("/dead-letters/{job_id:int}/replay", status_code=303)
    async def replay(self, admin: AdminEmail, job_id: FromPath[int], state: State) -> Redirect:
        if await replay_dead_letter(job_id):
            await record_audit(
                admin, "job.replay", str(job_id), {"status": JobStatus.DEAD}, {"status": JobStatus.QUEUED}
            )
            state.worker.wake()
        return Redirect("/admin/dead-letters", status_code=303)
