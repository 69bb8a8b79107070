"""Reads about the tenant's LLM models and their pricing plans."""

from django.db.models import QuerySet

from licensing.models import Tenant
from usage.models import LlmModel


def llm_model_list(*, tenant: Tenant) -> QuerySet[LlmModel]:
    """The tenant's models by name, with `pricing_plans` prefetched (oldest first)."""
    return LlmModel.objects.filter(tenant=tenant).prefetch_related("pricing_plans").order_by("name")
