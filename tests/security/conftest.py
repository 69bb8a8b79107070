"""API rate limits per test (the vendor fixture is in tests/conftest.py)."""

import pytest


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
