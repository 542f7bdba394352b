"""The bare Litestar route test_bench_webhook_ingest measures the webhook intake against, served by
`uvicorn --factory tests.bench.hello_world:hello_world_app` in a process of its own."""

from __future__ import annotations

from litestar import Litestar, get


@get("/hello", sync_to_thread=False)
def hello() -> str:
    return "hello"


def hello_world_app() -> Litestar:
    """For `uvicorn --factory`: the bare route, nothing else."""
    return Litestar([hello], logging_config=None)
