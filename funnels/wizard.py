"""The wizard's steps, their order and when each counts as done: derived from the saved draft."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from funnels.tables import FunnelStatus


@dataclass(frozen=True)
class Step:
    slug: str
    title: str


STEPS: tuple[Step, ...] = (
    Step("campaign", "Campaign information"),
    Step("product", "Main product"),
    Step("upsells", "Upsells"),
    Step("template", "Template"),
    Step("hosting", "Hosting"),
    Step("review", "Check answers"),
)
STEP_SLUGS = tuple(step.slug for step in STEPS)


def step_done(slug: str, funnel: Mapping[str, Any], upsell_count: int) -> bool:
    if slug == "campaign":
        return bool(funnel["name"] and funnel["currency"] and funnel["country"])
    if slug == "product":
        return bool(funnel["main_variant_id"])
    if slug == "upsells":
        return bool(funnel["upsells_confirmed"] and upsell_count > 0)
    if slug == "template":
        return bool(funnel["template_id"])
    if slug == "hosting":
        return bool(funnel["host_kind"] and (funnel["subdomain"] or funnel["custom_domain"]))
    return funnel["status"] in {FunnelStatus.LIVE, FunnelStatus.PUBLISHING}


def done_steps(funnel: Mapping[str, Any], upsell_count: int) -> frozenset[str]:
    return frozenset(step.slug for step in STEPS if step_done(step.slug, funnel, upsell_count))


def first_unfinished(funnel: Mapping[str, Any], upsell_count: int) -> str:
    done = done_steps(funnel, upsell_count)
    return next((slug for slug in STEP_SLUGS if slug not in done), "review")


def can_open(slug: str, funnel: Mapping[str, Any], upsell_count: int) -> bool:
    """A step opens once every step before it is done, so none can be skipped by URL."""
    done = done_steps(funnel, upsell_count)
    return all(earlier in done for earlier in STEP_SLUGS[: STEP_SLUGS.index(slug)])


def title_of(slug: str) -> str:
    return next(step.title for step in STEPS if step.slug == slug)
