"""Start-up checks: a broken or missing license key configuration is said at once, not at
the first apply."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from licensing.keys import configured_keys


@checks.register(checks.Tags.security)
def license_keys_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    try:
        keys = configured_keys()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="licensing.E001")]
    if not keys and not settings.DEBUG:
        return [
            checks.Info(
                "LICENSE_PUBLIC_KEYS is empty: every license will be refused.",
                hint="Set it to the vendor's public key file (PEM or JWKS).",
                id="licensing.I001",
            )
        ]
    return []
