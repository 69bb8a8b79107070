"""The signal the budgets send, for the notifications layer to raise budget alerts (§7.1).

`budget_usage_changed` is sent INSIDE the transaction that changed a budget period's
figures (an authorization reserving, a usage event settling or adding spend, a
reservation expiring), once per dimension that changed, so a receiver that writes an alert
row and enqueues its deliveries commits or rolls back with the change. It runs on every
authorization: a receiver must not query unless a threshold lies between before and after.

Keyword arguments:
- tenant_id: int
- period: datetime.date, the first day of the budget's calendar month (tenant's zone)
- dimension: "usd" | "tokens"
- used_before, used_after: Decimal (usd) or int (tokens): spent + reserved, the figure a
  hard budget refuses on (reserving counts as using; a settlement replaces the estimate
  by the actual; an expiry gives the estimate back)
- limit: Decimal | int | None (None: no limit in that dimension, or no budget)
- hard: bool
"""

from django.dispatch import Signal

budget_usage_changed = Signal()
