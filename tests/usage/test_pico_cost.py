"""pricing.PicoPrices and pico_cost, the integer form of token_cost, agree with it exactly."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from usage.models import PricingPlan
from usage.pricing import PicoPrices, pico_cost, token_cost

# A price column holds up to 6 decimal places (PricingPlan's scale).
prices = st.decimals(min_value=0, max_value=Decimal("100000"), places=6)
tokens = st.integers(min_value=0, max_value=2**63 - 1)


@given(prices, prices, prices, tokens, tokens, tokens)
def test_pico_cost_of_summed_products_equals_token_cost(
    input_price, output_price, cached_price, input, output, cached
):
    plan = PricingPlan(
        input_per_million=input_price,
        output_per_million=output_price,
        cached_per_million=cached_price,
    )
    pico = PicoPrices.of(plan)
    got = pico_cost(input * pico.input, output * pico.output, cached * pico.cached)
    assert got == token_cost(plan, input=input, output=output, cached=cached)


def test_a_price_with_more_than_six_places_is_refused_not_rounded():
    plan = PricingPlan(
        input_per_million=Decimal("0.0000001"),
        output_per_million=Decimal(1),
        cached_per_million=Decimal(0),
    )
    with pytest.raises(ValueError, match="more than 6 decimal places"):
        PicoPrices.of(plan)
