from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.middleware import common

from config.errors import bad_request, is_api_request
from config.parsers import PARSED_ATTRIBUTE, JsonRefused, read_json

SAFE_METHODS = ("GET", "HEAD")


class CommonMiddleware(common.CommonMiddleware):
    """Django's CommonMiddleware, except that an API write is never redirected to add the
    trailing slash: clients re-send a 301/302 as a GET, so `POST /api/v1/license` would read
    the unchanged state and look like success. It gets a JSON 404 naming the right path."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if is_api_request(request) and request.method not in SAFE_METHODS:
            return False
        return super().should_redirect_with_slash(request)


class InputGuardMiddleware:
    """Input no view could store is refused before any view runs (SPEC §6.1: no 500).

    - A JSON body under /api/ is parsed once by `read_json` (depth, NUL, lone surrogates,
      each refusal a JSON 400 naming the field path); the view's parser reuses the value.
    - A NUL in a query parameter is a 400 (JSON under /api/): PostgreSQL cannot compare text
      holding one, so a filter such as `?model=%00` would otherwise fail in the database.
      Form posts need nothing here: every Django form text field refuses NUL itself
      (ProhibitNullCharactersValidator) and Django decodes form bytes with replacement, so a
      lone surrogate cannot arrive through a form.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = _query_refusal(request)
        if refusal is None and is_api_request(request) and _is_json(request):
            try:
                raw = request.body
            except RequestDataTooBig as error:
                return bad_request(request, error)
            if raw:
                try:
                    setattr(request, PARSED_ATTRIBUTE, read_json(raw))
                except JsonRefused as error:
                    refusal = error
        if refusal is None:
            return self.get_response(request)
        if is_api_request(request):
            return JsonResponse(refusal.as_dict(), status=400)
        return HttpResponseBadRequest(refusal.detail, content_type="text/plain; charset=utf-8")


def _query_refusal(request: HttpRequest) -> JsonRefused | None:
    for key, values in request.GET.lists():
        for text in (key, *values):
            if "\x00" in text:
                return JsonRefused(
                    "invalid_text",
                    f"The query parameter {key!r} holds a NUL character (%00); remove it.",
                    path=key.replace("\x00", "\\u0000"),
                )
    return None


def _is_json(request: HttpRequest) -> bool:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")
