"""Connects the alert receivers to the lower layers' signals, and registers the admin."""

from licensing.signals import license_applied
from tasks.signals import usage_changed
from usage.budgets.signals import budget_usage_changed
from usage.notifications import admin  # noqa: F401 (the admin autodiscovers usage.admin only)
from usage.notifications.alerts import (
    on_budget_usage_changed,
    on_license_applied,
    on_usage_changed,
)

usage_changed.connect(on_usage_changed, dispatch_uid="usage.notifications.usage_changed")
license_applied.connect(on_license_applied, dispatch_uid="usage.notifications.license_applied")
budget_usage_changed.connect(
    on_budget_usage_changed, dispatch_uid="usage.notifications.budget_usage_changed"
)
