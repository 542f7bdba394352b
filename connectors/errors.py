"""Failures of external systems, in terms callers can act on."""

from __future__ import annotations


class ExternalServiceError(Exception):
    """The system failed or could not be reached; retrying later may help."""

    def __init__(self, system: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.status_code = status_code


class Unauthorized(ExternalServiceError):
    """The credentials were refused (expired or revoked token, wrong secret)."""


class RateLimited(ExternalServiceError):
    """The system asked us to slow down; not a failure of the work itself."""

    def __init__(self, system: str, retry_after_seconds: float) -> None:
        super().__init__(system, f"rate limited, retry after {retry_after_seconds:.1f}s", status_code=429)
        self.retry_after_seconds = retry_after_seconds


class Rejected(ExternalServiceError):
    """The system understood the request and refused it; retrying the same will not help."""

    def __init__(
        self,
        system: str,
        message: str,
        *,
        status_code: int | None = None,
        code: str = "",
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(system, message, status_code=status_code)
        self.code = code
        # field -> the service's message about it, for validation answers
        self.fields = fields or {}
