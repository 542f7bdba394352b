"""Vendored front-end files, pinned by version and Subresource Integrity hash."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@dataclass(frozen=True)
class VendoredAsset:
    path: str  # relative to STATIC_DIR
    integrity: str

    @property
    def url(self) -> str:
        return f"/static/{self.path}"


# htmx.org 2.0.11 (npm, dist/htmx.min.js), Zero-Clause BSD.
HTMX = VendoredAsset(
    "vendor/htmx-2.0.11.min.js",
    "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg",
)
# @picocss/pico 2.1.1 (npm, css/pico.min.css), MIT.
PICO_CSS = VendoredAsset(
    "vendor/pico-2.1.1.min.css",
    "sha384-L1dWfspMTHU/ApYnFiMz2QID/PlP1xCW9visvBdbEkOLkSSWsP6ZJWhPw6apiXxU",
)
VENDORED_ASSETS = (HTMX, PICO_CSS)


def template_globals() -> dict[str, object]:
    return {
        "htmx": HTMX,
        "pico_css": PICO_CSS,
        "app_css_url": "/static/css/app.css",
        "app_js_url": "/static/js/app.js",
        "embedded_js_url": "/static/js/embedded.js",
    }
