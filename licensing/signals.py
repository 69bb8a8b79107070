"""Signals the licensing app sends, for the layers above (tasks, usage) to act on.

`license_applied` is sent INSIDE the transaction of `license_apply`, after the new license
became active, with keyword arguments `tenant` (licensing.models.Tenant), `license` (the
new active licensing.models.License) and `previous` (the archived one, or None).
"""

from django.dispatch import Signal

license_applied = Signal()
