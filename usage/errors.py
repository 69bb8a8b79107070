"""The usage domain's refusal, translated once per edge (API handler, pages, forms)."""

from licensing.errors import DomainError


class UsageRefused(DomainError):
    """A model, plan or batch of events that will not be stored (400); nothing was written.

    `errors` maps a field (or, for a batch, `events` -> {index: {field: [messages]}})
    to messages, like a validation error.
    """

    code = "invalid"

    def __init__(self, detail: str, *, errors: dict | None = None, code: str | None = None):
        super().__init__(detail, code=code)
        self.errors = errors or {}

    def extra(self) -> dict:
        return {"errors": self.errors} if self.errors else {}


def batch_refused(errors: dict[str, dict[str, list[str]]]) -> UsageRefused:
    """One refusal for a batch of events: `errors` is {record index: {field: [messages]}}.

    The detail names the first bad record and field, and counts the other problems.
    """
    index, fields = next(iter(errors.items()))
    field, messages = next(iter(fields.items()))
    more = sum(len(f) for f in errors.values()) - 1
    detail = f"Event {index}, field {field}: {messages[0]} Nothing was stored."
    if more:
        detail += f" ({more} more problem{'s' if more > 1 else ''} listed in errors.)"
    return UsageRefused(detail, errors={"events": errors})
