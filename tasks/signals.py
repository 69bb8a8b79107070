"""Signals the tasks app sends, for the layer above (usage) to act on.

`usage_changed` is sent by the cap guard INSIDE the transaction that changed a tenant's
usage (a task counted, a host or gateway registered, removed or revoked), so a receiver
that writes (an alert row, its enqueued deliveries) commits or rolls back with the change.
Receivers must be cheap on the common path (no query unless a threshold is crossed):
task creation runs it on every insert. With no receiver connected, sending costs one
empty-list check (Signal.send's own fast path).

Sent by `tasks.guards` with `sender` the model of the dimension (Task, Host or Gateway)
and keyword arguments:
- tenant_id: int
- dimension: "tasks" | "hosts" | "gateways"
- used_before: int, used_after: int (the count in that dimension before and after)
- cap: int | None (None: unlimited)
- license_jti: str | None (the active license's jti; None on the free tier)
"""

from django.dispatch import Signal

usage_changed = Signal()
