"""API rate limits (SPEC §6.1), counted in the shared cache (`CACHES["throttle"]`: PostgreSQL's
database cache by default, Redis when REDIS_URL is set), so every web worker counts the same
requests. A request over a limit is 429 `rate_limited` with `Retry-After` (config.api).

- `ApiClientRateThrottle`: per API token (each token its own budget), else per logged-in user
  (session), else per address (anonymous).
- `GatewayRateThrottle`: per gateway, for ticket deliveries (`/api/v1/gateways/<id>/tickets/`),
  recognised by the path so the delivery view needs no throttle of its own.

Rates are the settings API_RATE_PER_TOKEN, API_RATE_PER_GATEWAY and API_RATE_ANONYMOUS.
"""

import re

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from licensing.models import ApiToken

GATEWAY_DELIVERY = re.compile(r"^/api/v1/gateways/(?P<gateway_id>\d+)/tickets/$")


class _SharedCacheThrottle(SimpleRateThrottle):
    @property
    # Looked up per use, so a test's settings override is honoured. The stubs declare `cache`
    # a plain attribute; a read-only property is what DRF reads here.
    def cache(self):  # type: ignore[override]
        return caches["throttle"]


class ApiClientRateThrottle(_SharedCacheThrottle):
    scope = "api_client"

    def __init__(self) -> None:
        pass  # the rate depends on who asks: chosen per request below

    def allow_request(self, request, view) -> bool:
        if GATEWAY_DELIVERY.match(request.path_info):
            return True  # a gateway's own budget (GatewayRateThrottle)
        signed_in = bool(request.user and request.user.is_authenticated)
        self.rate = self.THROTTLE_RATES["api_token" if signed_in else "api_anonymous"]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            who = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            who = f"user:{request.user.pk}"
        else:
            who = f"address:{self.get_ident(request)}"
        return f"throttle:{who}"


class GatewayRateThrottle(_SharedCacheThrottle):
    scope = "gateway"

    def get_cache_key(self, request, view) -> str | None:
        match = GATEWAY_DELIVERY.match(request.path_info)
        return f"throttle:gateway:{match['gateway_id']}" if match else None
