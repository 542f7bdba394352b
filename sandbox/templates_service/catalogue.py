"""The template catalogue: fixed, seeded in code, with generated SVG previews.

Each template has a look (colours, a layout) used both by its preview image
(`GET /previews/{id}.svg`, served by the sandbox itself) and by published pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any


@dataclass(frozen=True)
class Template:
    id: str
    seq: int  # catalogue order; lists and cursors follow it
    name: str
    description: str
    category: str
    layout: str  # how pages and previews are drawn
    accent: str
    background: str
    ink: str

    def as_json(self, public_base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "preview_url": f"{public_base}/previews/{self.id}.svg",
        }


TEMPLATES: tuple[Template, ...] = (
    Template(
        "tpl_classic_sales",
        1,
        "Classic sales page",
        "Headline, product photo, benefits and a buy button: the long-proven layout.",
        "sales_page",
        "classic",
        "#1d4ed8",
        "#ffffff",
        "#111827",
    ),
    Template(
        "tpl_video_sales_letter",
        2,
        "Video sales letter",
        "A video above the fold carries the pitch; the offer follows it.",
        "video_sales_letter",
        "video",
        "#dc2626",
        "#0f172a",
        "#f8fafc",
    ),
    Template(
        "tpl_minimal",
        3,
        "Minimal",
        "One product, a few words, lots of white space.",
        "sales_page",
        "minimal",
        "#111827",
        "#fafafa",
        "#111827",
    ),
    Template(
        "tpl_bold_offer",
        4,
        "Bold offer",
        "A loud price and discount banner for limited-time deals.",
        "sales_page",
        "bold",
        "#f59e0b",
        "#1f2937",
        "#fefce8",
    ),
    Template(
        "tpl_story",
        5,
        "Story",
        "A long-form page that tells the product's story before the offer.",
        "long_form",
        "story",
        "#047857",
        "#f0fdf4",
        "#064e3b",
    ),
    Template(
        "tpl_one_click_upsell",
        6,
        "One-click upsell",
        "After checkout: one extra product, accepted or declined with one click.",
        "upsell",
        "upsell",
        "#7c3aed",
        "#faf5ff",
        "#2e1065",
    ),
)
BY_ID = {t.id: t for t in TEMPLATES}


def template(template_id: str) -> Template | None:
    return BY_ID.get(template_id)


def preview_svg(t: Template) -> str:
    """A 640x400 wireframe of the template in its colours, with its name."""
    blocks = _LAYOUT_BLOCKS[t.layout](t)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400" viewBox="0 0 640 400" '
        f'role="img" aria-label="{escape(t.name)} template preview">'
        f"<title>{escape(t.name)}</title>"
        f'<rect width="640" height="400" fill="{t.background}"/>'
        f'<rect width="640" height="36" fill="{t.accent}"/>'
        f"{blocks}"
        f'<text x="24" y="384" font-family="system-ui,sans-serif" font-size="18" fill="{t.ink}">'
        f"{escape(t.name)}</text></svg>"
    )


def _bar(x: int, y: int, w: int, h: int, fill: str, opacity: float = 1.0) -> str:
    return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="{fill}" opacity="{opacity}"/>'


def _classic(t: Template) -> str:
    return (
        _bar(24, 60, 400, 28, t.ink)
        + _bar(24, 100, 300, 14, t.ink, 0.5)
        + _bar(360, 130, 256, 180, t.accent, 0.25)
        + "".join(_bar(24, 140 + 30 * i, 300, 12, t.ink, 0.35) for i in range(5))
        + _bar(24, 300, 160, 40, t.accent)
    )


def _video(t: Template) -> str:
    return (
        _bar(120, 60, 400, 225, t.ink, 0.15)
        + f'<polygon points="300,140 300,210 360,175" fill="{t.accent}"/>'
        + _bar(170, 300, 300, 14, t.ink, 0.6)
        + _bar(240, 326, 160, 36, t.accent)
    )


def _minimal(t: Template) -> str:
    return (
        f'<circle cx="320" cy="160" r="70" fill="{t.ink}" opacity="0.08"/>'
        + _bar(220, 250, 200, 16, t.ink, 0.8)
        + _bar(270, 290, 100, 28, t.accent)
    )


def _bold(t: Template) -> str:
    return (
        _bar(0, 56, 640, 90, t.accent)
        + f'<text x="320" y="118" text-anchor="middle" font-family="system-ui,sans-serif" '
        f'font-size="44" font-weight="800" fill="{t.background}">-50%</text>'
        + _bar(40, 170, 260, 170, t.ink, 0.15)
        + _bar(330, 180, 270, 30, t.ink, 0.9)
        + _bar(330, 230, 200, 14, t.ink, 0.5)
        + _bar(330, 290, 220, 48, t.accent)
    )


def _story(t: Template) -> str:
    paragraphs = "".join(_bar(80, 110 + 22 * i, 480 - (i % 3) * 60, 10, t.ink, 0.35) for i in range(9))
    return _bar(80, 60, 480, 30, t.ink, 0.85) + paragraphs + _bar(240, 320, 160, 32, t.accent)


def _upsell(t: Template) -> str:
    return (
        _bar(24, 56, 592, 40, t.accent, 0.2)
        + _bar(40, 66, 360, 20, t.ink, 0.8)
        + _bar(60, 120, 220, 200, t.ink, 0.12)
        + _bar(320, 140, 260, 20, t.ink, 0.8)
        + _bar(320, 230, 260, 40, t.accent)
        + _bar(320, 286, 260, 20, t.ink, 0.25)
    )


_LAYOUT_BLOCKS = {
    "classic": _classic,
    "video": _video,
    "minimal": _minimal,
    "bold": _bold,
    "story": _story,
    "upsell": _upsell,
}
