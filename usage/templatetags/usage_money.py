"""`cost_usd`: an exact cost as the page shows it (the rule lives in `usage/pricing.py`);
`share_percent`: a breakdown row's share."""

from django import template

from usage import pricing

register = template.Library()
register.filter("cost_usd", pricing.cost_usd)


@register.filter
def share_percent(share) -> str:
    """A breakdown row's share (a fraction, `usage.selectors.figures.share_of`) as "12.3 %";
    "—" when the range's total is 0."""
    if share is None:
        return "—"
    return f"{share * 100:.1f} %"
