"""The API's token edge: `Authorization: Bearer tly_...` (or `Token tly_...`)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from licensing.api_tokens.services import ApiTokenRefused, api_token_for_secret, scope_allows
from licensing.models import ApiToken

KEYWORDS = (b"bearer", b"token")

_SCOPE_SENTENCES: dict[str, str] = {
    ApiToken.Scope.READ: "it may only read (GET)",
    ApiToken.Scope.USAGE: "it may only report usage events and authorize LLM calls",
}


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates as the token's user, with at most that user's rights, narrowed here by the
    token's scope (views name their own permissions, so the scope cannot be a permission class
    they would all have to list). Unknown, expired and revoked tokens are 401 with their own
    code; a request outside the scope is 403 `token_scope`."""

    def authenticate(self, request):
        keyword, _, credential = get_authorization_header(request).partition(b" ")
        if keyword.lower() not in KEYWORDS:
            return None
        try:
            secret = credential.decode("ascii").strip()
        except UnicodeDecodeError:
            secret = ""
        if not secret:
            raise exceptions.AuthenticationFailed(
                "Send the API token after the keyword: Authorization: Bearer tly_...",
                code="token_invalid",
            )
        try:
            token = api_token_for_secret(secret)
        except ApiTokenRefused as refusal:
            raise exceptions.AuthenticationFailed(refusal.detail, code=refusal.code) from None
        if not scope_allows(token.scope, method=request.method, path=request.path_info):
            raise exceptions.PermissionDenied(
                f"The API token {token.name!r} has the scope {token.scope!r}: "
                f"{_SCOPE_SENTENCES[token.scope]}.",
                code="token_scope",
            )
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (tly_...) from Settings > API tokens or "
            "`manage.py create_api_token`; `Authorization: Token tly_...` works too.",
        }
