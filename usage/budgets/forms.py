"""The Budget card's form: set, change or remove the tenant's monthly LLM budget."""

from decimal import Decimal

from django import forms

from usage.budgets.models import Budget
from usage.budgets.services import budget_set


class BudgetForm(forms.Form):
    limit_usd = forms.DecimalField(
        label="Monthly limit (USD)",
        max_digits=18,
        decimal_places=6,
        min_value=Decimal(0),
        required=False,
        help_text="Leave empty for no USD limit.",
    )
    limit_tokens = forms.IntegerField(
        label="Monthly limit (tokens)",
        min_value=0,
        max_value=2**63 - 1,
        required=False,
        help_text="All tokens; leave empty for no token limit. Both empty removes the budget.",
    )
    kind = forms.ChoiceField(label="Kind", choices=Budget.Kind.choices, initial=Budget.Kind.HARD)

    def save(self, *, tenant, acting_user) -> Budget | None:
        budget, _ = budget_set(
            tenant=tenant,
            limit_usd=self.cleaned_data["limit_usd"],
            limit_tokens=self.cleaned_data["limit_tokens"],
            kind=self.cleaned_data["kind"],
            acting_user=acting_user,
        )
        return budget


def budget_form_for(budget: Budget | None) -> BudgetForm:
    """The form prefilled with the budget in force (or empty, hard)."""
    if budget is None:
        return BudgetForm()
    return BudgetForm(
        initial={
            # 100.000000 as "100", never "1E+2" (normalize alone writes an exponent).
            "limit_usd": None
            if budget.limit_usd is None
            else format(budget.limit_usd.normalize(), "f"),
            "limit_tokens": budget.limit_tokens,
            "kind": budget.kind,
        }
    )
