"""llm_model_create: unique names per tenant; tenants never see each other's models."""

import pytest

from usage.selectors import llm_model_list
from usage.services import UsageRefused, llm_model_create


def test_a_model_name_is_unique_per_tenant_but_not_across_tenants(tenant_a, tenant_b):
    llm_model_create(tenant=tenant_a, name="gpt-4o", provider="OpenAI")
    with pytest.raises(UsageRefused) as refused:
        llm_model_create(tenant=tenant_a, name="gpt-4o", provider="Azure")
    assert refused.value.code == "model_exists"
    llm_model_create(tenant=tenant_b, name="gpt-4o", provider="OpenAI")
    assert [m.name for m in llm_model_list(tenant=tenant_a)] == ["gpt-4o"]
    assert [m.provider for m in llm_model_list(tenant=tenant_b)] == ["OpenAI"]


@pytest.mark.parametrize(
    ("name", "provider", "field"), [("", "OpenAI", "name"), ("gpt", " ", "provider")]
)
def test_a_model_needs_a_name_and_a_provider(tenant_a, name, provider, field):
    with pytest.raises(UsageRefused) as refused:
        llm_model_create(tenant=tenant_a, name=name, provider=provider)
    assert field in refused.value.errors
