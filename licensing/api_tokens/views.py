"""Settings > API tokens (SPEC §6.2, staff): create (the secret shown once), list, revoke."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from licensing.api_tokens.forms import ApiTokenForm
from licensing.api_tokens.services import api_token_create, api_token_revoke
from licensing.models import ApiToken
from licensing.tenancy import MemberRequest, staff_required

# The new secret rides from the create to the page in a signed HttpOnly cookie that lives a
# minute, only for this page: no server store (the session table included) ever holds it.
NEW_TOKEN_COOKIE = "tally_new_api_token"
NEW_TOKEN_COOKIE_MAX_AGE = 60


def _tenant_tokens(request: MemberRequest):
    return ApiToken.objects.filter(user__membership__tenant=request.tenant).select_related("user")


@never_cache  # the page may hold a secret: never kept by the browser or a proxy
@staff_required
def api_tokens_page(request: MemberRequest) -> HttpResponse:
    """The tenant's API tokens; a create answers 303 to this page, which shows the secret once."""
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            made = api_token_create(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            page = reverse("api-tokens")
            response: HttpResponse = HttpResponseRedirect(page, status=303)
            response.set_signed_cookie(
                NEW_TOKEN_COOKIE,
                f"{request.user.pk}:{made.token.pk}:{made.secret}",
                salt=NEW_TOKEN_COOKIE,
                max_age=NEW_TOKEN_COOKIE_MAX_AGE,
                path=page,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Strict",
            )
            return response
    created, secret = _new_token(request) if request.method == "GET" else (None, None)
    context = {
        "form": form,
        "tokens": _tenant_tokens(request),
        "created": created,
        "secret": secret,
    }
    response = render(
        request, "licensing/api_tokens.html", context, status=400 if form.errors else 200
    )
    if NEW_TOKEN_COOKIE in request.COOKIES:
        response.delete_cookie(NEW_TOKEN_COOKIE, path=reverse("api-tokens"), samesite="Strict")
    return response


def _new_token(request: MemberRequest) -> tuple[ApiToken | None, str | None]:
    value = request.get_signed_cookie(
        NEW_TOKEN_COOKIE, default="", salt=NEW_TOKEN_COOKIE, max_age=NEW_TOKEN_COOKIE_MAX_AGE
    )
    assert value is not None  # the default is ""
    user_id, _, rest = value.partition(":")
    token_id, _, secret = rest.partition(":")
    if not (secret and token_id.isdigit()) or user_id != str(request.user.pk):
        return None, None
    token = ApiToken.objects.filter(pk=token_id, user=request.user).first()
    return (token, secret) if token is not None else (None, None)


@staff_required
def api_token_revoke_page(request: MemberRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes. Another tenant's token is a 404."""
    token = get_object_or_404(_tenant_tokens(request), pk=pk)
    if request.method != "POST":
        return render(request, "licensing/api_token_revoke.html", {"token": token})
    api_token_revoke(token=token)
    messages.success(request, f"API token “{token.name}” revoked: it no longer authenticates.")
    return redirect("api-tokens")
