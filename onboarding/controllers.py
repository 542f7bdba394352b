"""The app's own pages: the landing page and the probes operators point at it."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, MediaType, Response, get
from litestar.datastructures import State
from litestar.response import Template

from onboarding.database import database_status


@dataclass(frozen=True)
class Probe:
    status: str
    detail: str | None = None


class HealthController(Controller):
    # Probes are polled often and carry no user data: keep them out of sessions.
    opt = {"skip_session": True}

    @get("/healthz", media_type=MediaType.JSON, sync_to_thread=False)
    def healthz(self) -> Probe:
        return Probe(status="ok")

    @get("/readyz", media_type=MediaType.JSON)
    async def readyz(self, state: State) -> Response[Probe]:
        status = await database_status(state.expected_migrations)
        if status.problem:
            return Response(Probe(status="unavailable", detail=status.problem), status_code=503)
        return Response(Probe(status="ok"))


class HomeController(Controller):
    @get("/", sync_to_thread=False)
    def home(self, state: State) -> Template:
        return Template(
            template_name="home.html",
            context={"shopify_sandbox_url": state.settings.shopify_sandbox_url},
        )
