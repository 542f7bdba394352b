"""What the merchant-owned resources of both sandboxes share.

CRM products, campaigns and offers and template-service sites follow one set of rules:
opaque ids with a prefix, ownership by the user/account whose token made them (another
owner's id answers 404, never 403, so ids cannot be probed), create-once by `external_id`
per owner (409 `conflict` with the existing id), `{"data", "next_cursor"}` lists in
creation order, and field-by-field 422s. `Fields` collects those 422s.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from litestar import Request

from sandbox.common.directory import encode_cursor, parse_page_args
from sandbox.common.errors import ApiError, FieldError, validation_failed
from sandbox.common.iso_codes import COUNTRIES, CURRENCIES

# A non-negative decimal written as a string: "19.99", "0", "1000". No sign, no exponent:
# money travels as strings so no float ever rounds it.
DECIMAL = re.compile(r"^\d{1,12}(?:\.\d{1,4})?$")
HTTP_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
MAX_URL = 2048
MAX_NUMBER = 1e12  # weights and the like: anything larger is a mistake
MAX_INTEGER = 2**53 - 1  # what every JSON parser reads exactly


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


R = TypeVar("R", bound=Sequenced)


def conflict(message: str, existing_id: str) -> ApiError:
    return ApiError(409, {"error": "conflict", "message": message, "existing_id": existing_id})


def page_args(request: Request[Any, Any, Any]) -> tuple[int, int]:
    """(limit, after-seq) from `limit` and `cursor`; 422 when either is not usable."""
    args = parse_page_args(request.query_params.get("limit"), request.query_params.get("cursor"))
    if isinstance(args, list):
        raise validation_failed(args)
    return args


def page_body(
    records: Iterable[R], request: Request[Any, Any, Any], as_json: Callable[[R], dict[str, Any]]
) -> dict[str, Any]:
    """`{"data": [...], "next_cursor": ...}`: the records after the cursor, in creation order."""
    limit, after = page_args(request)
    matching = sorted((r for r in records if r.seq > after), key=lambda r: r.seq)
    page = matching[:limit]
    more = len(matching) > limit
    return {
        "data": [as_json(r) for r in page],
        "next_cursor": encode_cursor(page[-1].seq) if more else None,
    }


class Fields:
    """Reads fields of a JSON object, collecting a `FieldError` for each bad one.

    Every reader returns a usable placeholder on failure so the caller can keep reading
    and report every problem at once; call `raise_if_any()` before using the values.
    `prefix` names nested objects in messages: `host.subdomain`, `content.title`.
    """

    def __init__(
        self, body: Mapping[str, Any], prefix: str = "", errors: list[FieldError] | None = None
    ) -> None:
        self.body = body
        self.prefix = prefix
        self.errors: list[FieldError] = [] if errors is None else errors

    def name(self, field: str) -> str:
        return f"{self.prefix}.{field}" if self.prefix else field

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(self.name(field), message))

    def failed(self, field: str) -> bool:
        full = self.name(field)
        return any(e.field == full for e in self.errors)

    def nested(self, field: str) -> Fields | None:
        """The object at `field` as a reader sharing this one's errors; None if not an object."""
        value = self.body.get(field)
        if value is None:
            self.fail(field, "This field is required.")
            return None
        if not isinstance(value, dict):
            self.fail(field, "Must be an object.")
            return None
        return Fields(value, self.name(field), self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise validation_failed(self.errors)

    # -- readers -----------------------------------------------------------------------------

    def text(self, field: str, *, max_length: int, min_length: int = 1, default: str | None = None) -> str:
        """A required string (or `default` when absent/null), stripped, within the lengths."""
        value = self.body.get(field)
        if value is None:
            if default is not None:
                return default
            self.fail(field, "This field is required.")
            return ""
        if not isinstance(value, str):
            self.fail(field, "Must be a string.")
            return ""
        value = value.strip()
        if len(value) < min_length:
            self.fail(
                field,
                "Must not be blank." if min_length == 1 else f"Must be at least {min_length} characters.",
            )
        elif len(value) > max_length:
            self.fail(field, f"Must be at most {max_length} characters.")
        return value

    def optional_text(self, field: str, *, max_length: int) -> str | None:
        """A string or null; a blank string reads as null."""
        if self.body.get(field) is None:
            return None
        value = self.text(field, max_length=max_length, min_length=0)
        return value or None

    def choice(self, field: str, options: Iterable[str], *, default: str | None = None) -> str:
        allowed = list(options)
        value = self.body.get(field, default)
        if value is None:
            self.fail(field, "This field is required.")
            return ""
        if not isinstance(value, str) or value not in allowed:
            self.fail(field, f"Must be one of: {', '.join(allowed)}.")
            return ""
        return value

    def boolean(self, field: str, *, default: bool | None = None) -> bool:
        value = self.body.get(field, default)
        if not isinstance(value, bool):
            self.fail(field, "Must be true or false." if value is not None else "This field is required.")
            return False
        return value

    def integer(self, field: str, *, minimum: int | None = None, nullable: bool = False) -> int | None:
        value = self.body.get(field)
        if value is None:
            if not nullable:
                self.fail(field, "This field is required.")
            return None
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > MAX_INTEGER:
            self.fail(field, f"Must be an integer from -{MAX_INTEGER} to {MAX_INTEGER}.")
            return None
        if minimum is not None and value < minimum:
            self.fail(field, f"Must be at least {minimum}.")
        return value

    def number(self, field: str, *, minimum: float = 0.0) -> float | None:
        """A JSON number or null."""
        value = self.body.get(field)
        if value is None:
            return None
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or (isinstance(value, float) and not math.isfinite(value))
            or abs(value) > MAX_NUMBER
        ):
            self.fail(field, f"Must be a number of at most {MAX_NUMBER:g}.")
            return None
        if value < minimum:
            self.fail(field, f"Must be at least {minimum:g}.")
        return float(value)

    def decimal(self, field: str, *, default: str | None = None) -> Decimal | None:
        """A non-negative decimal string such as "19.99" (JSON numbers are refused)."""
        value = self.body.get(field, default)
        if value is None:
            self.fail(field, "This field is required.")
            return None
        if not isinstance(value, str) or not DECIMAL.match(value):
            self.fail(field, 'Must be a non-negative decimal string such as "19.99".')
            return None
        return Decimal(value)

    def currency(self, field: str) -> str:
        value = self.text(field, max_length=3)
        if value and not self.failed(field) and value not in CURRENCIES:
            self.fail(field, "Must be an ISO 4217 currency code such as USD, EUR or GBP.")
        return value

    def country(self, field: str) -> str:
        value = self.text(field, max_length=2)
        if value and not self.failed(field) and value not in COUNTRIES:
            self.fail(field, "Must be an ISO 3166-1 alpha-2 country code such as US, GB or DE.")
        return value

    def url(self, field: str) -> str | None:
        """An http(s) URL or null."""
        value = self.optional_text(field, max_length=MAX_URL)
        if value is not None and not self.failed(field) and not HTTP_URL.match(value):
            self.fail(field, "Must be an http or https URL.")
        return value

    def string_map(self, field: str, *, max_length: int = 255) -> dict[str, str]:
        """An object of string to string (null or absent reads as {})."""
        value = self.body.get(field)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.fail(field, "Must be an object of strings to strings.")
            return {}
        if any(not k.strip() or len(k) > max_length or len(v) > max_length for k, v in value.items()):
            self.fail(field, f"Names must not be blank; names and values at most {max_length} characters.")
            return {}
        return dict(value)

    def id_list(self, field: str) -> list[str]:
        """A list of distinct id strings (may be empty)."""
        value = self.body.get(field)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(field, "Must be a list of ids." if value is not None else "This field is required.")
            return []
        if len(set(value)) != len(value):
            self.fail(field, "Must not repeat an id.")
            return []
        return list(value)
