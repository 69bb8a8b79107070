"""API rate limits (SPEC §6.1), counted where every web worker counts the same requests: in
PostgreSQL (`tally_rate_counter`, made by `migrate`), or in Redis when REDIS_URL is set
(`CACHES["throttle"]`). A request over a limit is 429 `rate_limited` with `Retry-After`
(config.api).

- `ApiClientRateThrottle`: per API token (each token its own budget), else per logged-in user
  (session), else per address (anonymous).
- `GatewayRateThrottle`: per gateway, for ticket deliveries (`/api/v1/gateways/<id>/tickets/`),
  recognised by the path so the delivery view needs no throttle of its own.

Rates are the settings API_RATE_PER_TOKEN, API_RATE_PER_GATEWAY and API_RATE_ANONYMOUS. A rate
"N/period" allows N requests in a window that opens at a client's first request after its
previous window closed. Counting is one statement per request: DRF's own throttle keeps a list
of every request time in the cache and rewrites it on each request (six queries through the
database cache, and a list of up to N times, so 1,000 authorize calls/s under one token was out
of reach: bench/authorize.py).
"""

import random
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from licensing.models import ApiToken

GATEWAY_DELIVERY = re.compile(r"^/api/v1/gateways/(?P<gateway_id>\d+)/tickets/$")

# One statement: count this request in the client's open window, or open a new one. Both SET
# expressions read the row as it was; the row lock makes concurrent workers count in turn.
_COUNT_SQL = """
INSERT INTO tally_rate_counter AS c (key, window_started_at, requests)
VALUES (%(key)s, %(now)s, 1)
ON CONFLICT (key) DO UPDATE SET
    requests = CASE WHEN c.window_started_at > %(opened_after)s THEN c.requests + 1 ELSE 1 END,
    window_started_at = CASE WHEN c.window_started_at > %(opened_after)s
                             THEN c.window_started_at ELSE %(now)s END
RETURNING requests, window_started_at
"""
# Windows closed a day ago (the longest DRF period) are deleted now and then, so clients that
# went away (anonymous addresses) do not pile up.
_FORGET_SQL = "DELETE FROM tally_rate_counter WHERE window_started_at < %s"
FORGET_ONE_IN = 10_000
LONGEST_PERIOD = timedelta(days=1)


def request_counted(key: str, *, period: timedelta, now: datetime) -> tuple[int, float]:
    """Count one request of `key`: (requests in its window so far, seconds until the window
    closes)."""
    if "throttle" in settings.CACHES:
        return _counted_in_cache(key, period=period)
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL, {"key": key, "now": now, "opened_after": now - period})
        requests, started_at = cursor.fetchone()
        if random.randrange(FORGET_ONE_IN) == 0:
            cursor.execute(_FORGET_SQL, [now - LONGEST_PERIOD - period])
    return requests, (started_at + period - now).total_seconds()


def _counted_in_cache(key: str, *, period: timedelta) -> tuple[int, float]:
    """The same window in a shared cache (Redis): created with the period as its expiry,
    then incremented atomically. The cache does not say when it expires, so the wait given
    is the whole period (never too short)."""
    cache = caches["throttle"]
    seconds = period.total_seconds()
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key), seconds
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=seconds)
        return 1, seconds


class _CountedThrottle(SimpleRateThrottle):
    """DRF's throttle interface (rate parsing, keys, `wait` for Retry-After) over
    `request_counted`."""

    num_requests: int | None
    duration: int | None
    _wait: float

    def allow_request(self, request, view) -> bool:
        if self.num_requests is None or self.duration is None:
            return True  # no rate set for this scope
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        period = timedelta(seconds=self.duration)
        requests, self._wait = request_counted(key, period=period, now=timezone.now())
        return requests <= self.num_requests

    def wait(self) -> float:
        return max(self._wait, 1.0)


class ApiClientRateThrottle(_CountedThrottle):
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


class GatewayRateThrottle(_CountedThrottle):
    scope = "gateway"

    def get_cache_key(self, request, view) -> str | None:
        match = GATEWAY_DELIVERY.match(request.path_info)
        return f"throttle:gateway:{match['gateway_id']}" if match else None
