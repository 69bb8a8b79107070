"""The licensing tests' vendor (real keys in a temporary folder); API rate limits per test."""

import pytest

from tests.licensing.conftest import vendor  # noqa: F401 - a fixture, used by name


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                "api_token": "1000/min",
                "api_anonymous": "1000/min",
                "gateway": "1000/min",
                **rates,
            },
        }
        from rest_framework.settings import api_settings
        from rest_framework.throttling import SimpleRateThrottle

        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    yield set_rates
    set_rates()
