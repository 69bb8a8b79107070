"""`cost_usd`: an exact cost as the page shows it (the rule lives in `usage/pricing.py`)."""

from django import template

from usage import pricing

register = template.Library()
register.filter("cost_usd", pricing.cost_usd)
