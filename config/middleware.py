from django.http import HttpRequest
from django.middleware import common

from config.errors import is_api_request

SAFE_METHODS = ("GET", "HEAD")


class CommonMiddleware(common.CommonMiddleware):
    """Django's CommonMiddleware, except that an API write is never redirected to add the
    trailing slash: clients re-send a 301/302 as a GET, so `POST /api/v1/license` would read
    the unchanged state and look like success. It gets a JSON 404 naming the right path."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if is_api_request(request) and request.method not in SAFE_METHODS:
            return False
        return super().should_redirect_with_slash(request)
