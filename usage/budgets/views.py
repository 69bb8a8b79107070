"""The Budget card's form post (`POST /usage/budget/`): the card again, or the Usage page."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from licensing.tenancy import staff_required
from usage.budgets.forms import BudgetForm, budget_form_for
from usage.budgets.selectors import budget_card


@require_POST
@staff_required
def budget_update(request):
    """Set the budget from the card's form. htmx gets the card back (with the form's errors,
    400); a plain post is redirected to the Usage page with a message."""
    form = BudgetForm(request.POST)
    saved = form.is_valid()
    if saved:
        form.save(tenant=request.tenant, acting_user=request.user)
    if request.htmx:
        card = budget_card(request.tenant)
        context = {"budget_card": card, "budget_form": budget_form_for(card.budget)}
        if not saved:
            context["budget_form"] = form
        else:
            context["budget_saved"] = True
        return render(request, "usage/_budget_card.html", context, status=200 if saved else 400)
    if saved:
        messages.success(request, "Budget saved.")
    else:
        errors = " ".join(str(m) for field_errors in form.errors.values() for m in field_errors)
        messages.error(request, f"The budget was not saved: {errors}")
    return redirect("usage")
