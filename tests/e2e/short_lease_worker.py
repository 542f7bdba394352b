"""`python -m onboarding worker` with a short job lease, for the worker test_sync_storm kills.

The same app, settings, handlers, queue and concurrency (WORKER_CONCURRENCY loops) as the
real command; only the lease is shorter (WORKER_LEASE_SECONDS, default 3 s instead of 60 s),
so the jobs the killed process held come back to the queue within the test's time budget
instead of a minute later.
"""

from __future__ import annotations

import asyncio
import os

from onboarding.app import create_app
from onboarding.settings import load_settings


async def main() -> None:
    app = create_app(load_settings().model_copy(update={"run_worker": False}))
    async with app.lifespan():
        worker = app.state.worker
        worker.lease_seconds = float(os.environ.get("WORKER_LEASE_SECONDS", "3"))
        await asyncio.gather(*(worker.run_forever() for _ in range(app.state.settings.worker_concurrency)))


if __name__ == "__main__":
    asyncio.run(main())
