"""`{{ cap|cap_text }}`: a cap as every license page and message writes it (1,000; Unlimited)."""

from django import template

from licensing.selectors import cap_text as _cap_text

register = template.Library()


@register.filter
def cap_text(cap: int | None) -> str:
    return _cap_text(cap).capitalize()
