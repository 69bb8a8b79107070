"""The one domain error family. Services raise these; each edge translates them once."""

from typing import Any

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """A refusal a person can read: a stable snake_case `code` and a sentence."""

    code = "error"
    http_status = 400

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code

    def extra(self) -> dict[str, Any]:
        return {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, **self.extra()}


class LicenseRefused(DomainError):
    """A license token that will not be applied; the active license stays as it was."""

    http_status = 400

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


class LicenseKeysUnavailable(LicenseRefused):
    """The verification keys cannot be loaded (LICENSE_PUBLIC_KEYS is missing, unreadable or
    invalid): no token can be verified, so none is applied. A server problem, hence 503."""

    http_status = 503

    def __init__(self) -> None:
        super().__init__(
            "license_keys_unavailable",
            "Tally cannot verify licenses right now: its license key configuration is broken. "
            "Nothing was applied; the operator must fix LICENSE_PUBLIC_KEYS (the server log "
            "says what is wrong), then apply the license again.",
        )


DIMENSION_SINGULAR = {"hosts": "host", "gateways": "gateway", "tasks": "task"}


class EntitlementError(DomainError):
    http_status = 403


class CapReached(EntitlementError):
    """Creation refused: `used` already equals (or exceeds) `cap` in `dimension`."""

    def __init__(self, dimension: str, *, used: int, cap: int) -> None:
        self.dimension, self.used, self.cap = dimension, used, cap
        noun = DIMENSION_SINGULAR[dimension]
        super().__init__(
            f"The {noun} cap is reached: {used} of {cap} {dimension} used. "
            "Apply a license with a higher cap to add more.",
            code=f"{noun}_cap_reached",
        )

    def extra(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "used": self.used, "cap": self.cap}


class LicenseExpired(EntitlementError):
    """Creation refused in every dimension: the active license is past its end."""

    code = "license_expired"

    def __init__(self, dimension: str, *, used: int, cap: int | None, expired_at) -> None:
        self.dimension, self.used, self.cap, self.expired_at = dimension, used, cap, expired_at
        super().__init__(
            f"The license expired on {expired_at:%Y-%m-%d %H:%M} UTC: no new {dimension} "
            "can be created until a new license is applied."
        )

    def extra(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "used": self.used,
            "cap": self.cap,
            "expired_at": self.expired_at.isoformat(),
        }


def validation_sentence(error: ValidationError) -> str:
    """Django's ValidationError as one line, for commands and messages."""
    if hasattr(error, "error_dict"):
        return "; ".join(m for messages in error.message_dict.values() for m in messages)
    return "; ".join(error.messages)
