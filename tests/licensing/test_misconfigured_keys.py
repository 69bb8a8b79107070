"""A broken LICENSE_PUBLIC_KEYS is the operator's problem: applying says so (503,
`license_keys_unavailable`), logs the configuration error and changes nothing."""

import json
import logging

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from licensing.checks import license_keys_check
from licensing.errors import LicenseRefused
from licensing.models import License, LicenseAuditRecord
from licensing.services import license_apply
from tests.factories import jwks

# An X25519 key is an encryption key; PyJWT refuses it with InvalidKeyError (not PyJWKError).
X25519_JWKS = {
    "keys": [{"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}]
}


@pytest.fixture(params=["missing", "not-a-key", "x25519-jwks"])
def broken_keys(request, vendor, settings, tmp_path):
    """The vendor signs as usual, but Tally's key file is missing or unusable."""
    path = tmp_path / "broken-keys"
    if request.param == "not-a-key":
        path.write_text("this is not a key")
    elif request.param == "x25519-jwks":
        path.write_text(json.dumps(X25519_JWKS))
    settings.LICENSE_PUBLIC_KEYS = str(path)
    return vendor


def test_applying_with_broken_keys_is_refused_logged_at_error_and_changes_nothing(
    broken_keys, tenant_a, admin_a, caplog
):
    token = broken_keys.token(tenant_a)
    with (
        caplog.at_level(logging.INFO, logger="licensing.services"),
        pytest.raises(LicenseRefused) as refused,
    ):
        license_apply(tenant=tenant_a, token=token, acting_user=admin_a)
    assert refused.value.code == "license_keys_unavailable"
    assert refused.value.http_status == 503
    assert "LICENSE_PUBLIC_KEYS" in refused.value.detail and "operator" in refused.value.detail
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "LICENSE_PUBLIC_KEYS=" in record.getMessage() and "tenant-a" in record.getMessage()
    assert not License.objects.exists() and not LicenseAuditRecord.objects.exists()


def test_the_api_answers_503_json_with_the_code(broken_keys, tenant_a, admin_a, api_client_for):
    client = api_client_for(admin_a)
    client.raise_request_exception = False
    response = client.post(
        "/api/v1/license/", {"token": broken_keys.token(tenant_a)}, format="json"
    )
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "license_keys_unavailable"
    assert "LICENSE_PUBLIC_KEYS" in body["detail"]
    assert set(body) == {"code", "detail"}
    assert not License.objects.exists()


def test_the_page_shows_the_refusal_like_any_other(broken_keys, tenant_a, admin_a, page_client_for):
    client = page_client_for(admin_a)
    client.raise_request_exception = False
    token = broken_keys.token(tenant_a)
    response = client.post("/settings/license/", {"token": token})
    assert response.status_code == 503
    page = response.content.decode()
    assert "The license was not applied." in page
    assert "<code>license_keys_unavailable</code>" in page
    assert token in page  # the paste is kept, to apply again once the keys are fixed
    assert not License.objects.exists()


def test_the_admin_shows_the_refusal_as_an_error(broken_keys, tenant_a, operator, client):
    client.force_login(operator)
    client.raise_request_exception = False
    response = client.post(
        f"/admin/licensing/tenant/{tenant_a.pk}/apply-license/",
        {"token": broken_keys.token(tenant_a)},
        follow=True,
    )
    assert response.status_code == 200
    assert "Not applied (license_keys_unavailable)" in response.content.decode()
    assert not License.objects.exists()


def test_the_system_check_reports_a_jwks_key_pyjwt_rejects(settings, tmp_path):
    path = tmp_path / "keys.jwks.json"
    path.write_text(json.dumps(X25519_JWKS))
    settings.LICENSE_PUBLIC_KEYS = str(path)
    [error] = license_keys_check(None)
    assert error.id == "licensing.E001"
    assert "the key number 1 (no kid) cannot be read (Unsupported crv: X25519)" in error.msg


def test_a_jwks_entry_whose_alg_does_not_fit_its_key_is_a_configuration_error(settings, tmp_path):
    entry = json.loads(jwks({"a": ed25519.Ed25519PrivateKey.generate()}))["keys"][0]
    path = tmp_path / "keys.jwks.json"
    path.write_text(json.dumps({"keys": [{**entry, "alg": "RS256"}]}))
    settings.LICENSE_PUBLIC_KEYS = str(path)
    [error] = license_keys_check(None)
    assert error.id == "licensing.E001" and "'a'" in error.msg


def test_a_jwks_file_with_a_utf8_byte_order_mark_is_read(vendor, tenant_a, tmp_path, settings):
    path = tmp_path / "keys.jwks.json"
    path.write_bytes(b"\xef\xbb\xbf" + jwks({"vendor": vendor.key}).encode())
    settings.LICENSE_PUBLIC_KEYS = str(path)
    assert license_keys_check(None) == []
    license = license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    assert license.status == "active"
