"""`license_apply`: verify, archive, activate, audit; one active license even under races."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.db import connection, transaction

from licensing.errors import LicenseRefused
from licensing.models import License, LicenseAuditRecord
from licensing.selectors import license_history, tenant_entitlements
from licensing.services import license_apply
from tests.factories import jwks, public_pem


def ago(days: float) -> int:
    return int((datetime.now(UTC) - timedelta(days=days)).timestamp())


def test_the_first_license_becomes_active_with_its_caps_token_and_claims(vendor, tenant_a, admin_a):
    token = vendor.token(tenant_a, caps={"hosts": 3, "gateways": None, "tasks": 40}, jti="L-1")
    license = license_apply(tenant=tenant_a, token=token + "\n", acting_user=admin_a)

    assert license.status == "active" and license.archived_at is None
    assert (license.hosts_cap, license.gateways_cap, license.tasks_cap) == (3, None, 40)
    assert license.jti == "L-1" and license.kind == "contract"
    assert license.customer == "Acme Robotics"
    assert license.token == token
    assert license.claims["caps"] == {"hosts": 3, "gateways": None, "tasks": 40}
    assert license.applied_by == admin_a
    entitlements = tenant_entitlements(tenant_a)
    assert entitlements.state == "licensed"
    assert entitlements.caps == {"hosts": 3, "gateways": None, "tasks": 40}


def test_a_new_license_archives_the_active_one_and_writes_an_audit_record(
    vendor, tenant_a, admin_a
):
    first = license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, iat=ago(2), nbf=ago(2)), acting_user=admin_a
    )
    second = license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, kind="trial"), acting_user=None
    )

    first.refresh_from_db()
    assert first.status == "archived" and first.archived_at is not None
    assert second.status == "active"
    assert License.objects.filter(tenant=tenant_a, status="active").get() == second
    audit = list(LicenseAuditRecord.objects.filter(tenant=tenant_a))
    assert [(r.license, r.previous_license, r.actor_name) for r in audit] == [
        (second, first, ""),
        (first, None, "admin-a"),
    ]


def test_history_lists_every_license_newest_first(vendor, tenant_a, tenant_b, admin_a):
    applied = [
        license_apply(
            tenant=tenant_a,
            token=vendor.token(tenant_a, iat=ago(days), nbf=ago(days)),
            acting_user=admin_a,
        )
        for days in (3, 2, 1)
    ]
    license_apply(tenant=tenant_b, token=vendor.token(tenant_b), acting_user=None)
    history = list(license_history(tenant_a))
    assert history == applied[::-1]
    assert [license.status for license in history] == ["active", "archived", "archived"]


def test_a_license_issued_at_the_same_second_as_the_active_one_is_not_a_rollback(vendor, tenant_a):
    issued = ago(1)
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a, iat=issued), acting_user=None)
    newer = license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, iat=issued), acting_user=None
    )
    assert newer.status == "active"


def test_an_archived_license_older_than_the_active_one_cannot_come_back(vendor, tenant_a):
    old_token = vendor.token(tenant_a, iat=ago(5), caps={"hosts": 999, "gateways": 9, "tasks": 9})
    license_apply(tenant=tenant_a, token=old_token, acting_user=None)
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    with pytest.raises(LicenseRefused) as refused:
        license_apply(tenant=tenant_a, token=old_token, acting_user=None)
    assert refused.value.code == "rollback"
    assert tenant_entitlements(tenant_a).cap("hosts") == 12


def test_a_license_for_tenant_a_cannot_be_applied_to_tenant_b(vendor, tenant_a, tenant_b):
    with pytest.raises(LicenseRefused) as refused:
        license_apply(tenant=tenant_b, token=vendor.token(tenant_a), acting_user=None)
    assert refused.value.code == "wrong_tenant"
    assert not License.objects.exists()


def test_license_apply_refuses_to_run_inside_an_outer_transaction(vendor, tenant_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)


def test_the_database_allows_one_active_license_per_tenant(vendor, tenant_a):
    from django.db import IntegrityError

    from tests.factories import LicenseFactory

    LicenseFactory(tenant=tenant_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseFactory(tenant=tenant_a)


# --- the configured keys, through settings -------------------------------------------


def test_two_keys_in_one_pem_file_both_verify(vendor, tenant_a, settings, tmp_path):
    new_key = ed25519.Ed25519PrivateKey.generate()
    both = tmp_path / "both.pem"
    both.write_bytes(public_pem(vendor.key, new_key))
    settings.LICENSE_PUBLIC_KEYS = str(both)

    license_apply(tenant=tenant_a, token=vendor.token(tenant_a, iat=ago(1)), acting_user=None)
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a, key=new_key), acting_user=None)
    assert License.objects.filter(tenant=tenant_a).count() == 2


@pytest.mark.parametrize("with_kid", [True, False], ids=["with-kid", "without-kid"])
def test_a_jwks_with_two_named_keys_verifies_tokens_from_either(
    vendor, tenant_a, settings, tmp_path, with_kid
):
    old, new = vendor.key, ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "keys.jwks.json"
    path.write_text(jwks({"vendor-2025": old, "vendor-2026": new}))
    settings.LICENSE_PUBLIC_KEYS = str(path)

    for days, kid, key in [(2, "vendor-2025", old), (1, "vendor-2026", new)]:
        headers = {"kid": kid} if with_kid else None
        token = vendor.token(tenant_a, iat=ago(days), headers=headers, key=key)
        license_apply(tenant=tenant_a, token=token, acting_user=None)
    assert [lic.status for lic in license_history(tenant_a)] == ["active", "archived"]


@pytest.mark.parametrize(
    "private_key",
    [ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)],
    ids=["ES256", "RS256"],
)
def test_es256_and_rs256_licenses_apply_with_their_public_keys(
    vendor, tenant_a, settings, tmp_path, private_key
):
    path = tmp_path / "vendor.pem"
    path.write_bytes(public_pem(private_key))
    settings.LICENSE_PUBLIC_KEYS = str(path)
    license = license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, key=private_key), acting_user=None
    )
    assert license.status == "active"


def test_rotating_the_key_file_takes_effect_without_a_restart(vendor, tenant_a, settings):
    new_key = ed25519.Ed25519PrivateKey.generate()
    token = vendor.token(tenant_a, key=new_key)
    with pytest.raises(LicenseRefused):
        license_apply(tenant=tenant_a, token=token, acting_user=None)
    vendor.public_path.write_bytes(public_pem(vendor.key, new_key))
    assert license_apply(tenant=tenant_a, token=token, acting_user=None).status == "active"


# --- races (PostgreSQL) --------------------------------------------------------------


def _apply_at_once(tenant, tokens: list[str]) -> list[str]:
    """Run one `license_apply` per token in its own thread, released together."""
    barrier = threading.Barrier(len(tokens))
    outcomes: list[str] = []

    def run(token):
        try:
            barrier.wait()
            license_apply(tenant=tenant, token=token, acting_user=None)
            outcomes.append("applied")
        except LicenseRefused as refusal:
            outcomes.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_two_different_licenses_applied_at_once_leave_exactly_one_active(vendor):
    from tests.factories import TenantFactory

    tenant = TenantFactory()
    issued = ago(1)
    for _ in range(5):
        tokens = [vendor.token(tenant, iat=issued), vendor.token(tenant, iat=issued)]
        assert _apply_at_once(tenant, tokens) == ["applied", "applied"]
    assert License.objects.filter(tenant=tenant, status="active").count() == 1
    assert License.objects.filter(tenant=tenant).count() == 10
    # Each apply archived the license the previous one activated: the audit trail is a chain.
    records = list(LicenseAuditRecord.objects.filter(tenant=tenant).order_by("id"))
    for earlier, later in zip(records, records[1:], strict=False):
        assert later.previous_license_id == earlier.license_id


@pytest.mark.django_db(transaction=True)
def test_the_same_license_applied_twice_at_once_is_applied_once(vendor):
    from tests.factories import TenantFactory

    tenant = TenantFactory()
    token = vendor.token(tenant)
    assert _apply_at_once(tenant, [token, token]) == ["already_applied", "applied"]
    assert License.objects.filter(tenant=tenant).count() == 1
