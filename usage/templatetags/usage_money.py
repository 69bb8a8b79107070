"""`cost_usd`: an exact cost as the page shows it, never "$0.00" for a cost that is not zero."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()

CENT = Decimal("0.01")
SMALLEST_SHOWN = Decimal("0.0001")


@register.filter
def cost_usd(amount: Decimal) -> str:
    """$1,234.57 from a cent up; $0.0042 or $0.005 below it; "< $0.0001" for less; $0 for 0.

    Agents' requests often cost a fraction of a cent: rounded to cents they would read
    as $0.00, which is what usage with no cost must never look like (SPEC §5.1).
    """
    amount = Decimal(amount)
    if amount == 0:
        return "$0"
    if amount >= CENT:
        return f"${amount.quantize(CENT, ROUND_HALF_UP):,}"
    shown = amount.quantize(SMALLEST_SHOWN, ROUND_HALF_UP)
    if shown == 0:
        return f"< ${SMALLEST_SHOWN}"
    whole, _, fraction = f"{shown.normalize():f}".partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"
