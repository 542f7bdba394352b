"""What the funnel controllers share: reading forms and showing a wizard step."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from funnels.services import FunnelDraft, load_draft
from funnels.tables import FunnelStatus
from funnels.validation import COUNTRIES, CURRENCIES, DISCOUNT_TYPES, Errors
from funnels.wizard import STEP_SLUGS, STEPS, title_of

Form = URLEncodedBody[dict[str, str]]
AnyRequest = Request[Any, Any, State]


def form_field(form: dict[str, str], name: str) -> str:
    return str(form.get(name, "")).strip()


def step_url(funnel_id: int, slug: str) -> str:
    return f"/funnels/{funnel_id}/{slug}"


# "Change" on Check answers opens a step with ?from=review: saving the step goes back there.
FROM_REVIEW = "?from=review"


def came_from_review(request: AnyRequest) -> bool:
    return request.query_params.get("from") == "review"


def after_step(request: AnyRequest, funnel_id: int, next_slug: str) -> str:
    """Where saving a step leads: on to `next_slug`, or back to Check answers when the merchant
    came from there to change one answer."""
    return step_url(funnel_id, "review" if came_from_review(request) else next_slug)


def same_step(request: AnyRequest, funnel_id: int, slug: str) -> str:
    """The step again (after adding, moving or removing an upsell), still on its way back."""
    return step_url(funnel_id, slug) + (FROM_REVIEW if came_from_review(request) else "")


def wizard_page(
    draft: FunnelDraft,
    slug: str,
    *,
    errors: Errors | None = None,
    status_code: int = 200,
    page: str | None = None,
    page_title: str | None = None,
    **context: Any,
) -> Template:
    """A page of step `slug`: its own template, or `page` (a sub-page of the step, such as the
    upsells step's downsell) under `page_title`."""
    return Template(
        template_name=f"funnels/{page or slug}.html",
        context={
            "draft": draft,
            "funnel": draft.funnel,
            "upsells": draft.upsells,
            "steps": STEPS,
            "current": slug,
            "step_title": page_title or title_of(slug),
            "step_number": STEP_SLUGS.index(slug) + 1,
            "errors": errors or {},
            "currencies": CURRENCIES,
            "countries": COUNTRIES,
            "discount_types": DISCOUNT_TYPES,
            **context,
        },
        status_code=status_code,
    )


async def open_step(shop_domain: str, funnel_id: int, slug: str) -> FunnelDraft | Redirect:
    """The draft when the step may be shown; otherwise a redirect to the first unfinished step."""
    draft = await load_draft(shop_domain, funnel_id)
    if draft.funnel["status"] == FunnelStatus.ARCHIVED:  # kept for its history, no longer edited
        return Redirect(f"/funnels/{funnel_id}/archive")
    if not draft.can_open(slug):
        return Redirect(step_url(funnel_id, draft.next_step))
    return draft
