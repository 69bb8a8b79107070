"""The operators' overview (SPEC §9): one row per tenant, sorted by risk, in the Django admin."""
