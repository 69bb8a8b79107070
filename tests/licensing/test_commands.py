import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from licensing.models import Tenant


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_tenant_prints_the_tenant_as_json():
    printed = json.loads(run("create_tenant", "Globex Corp", "--timezone", "America/New_York"))
    tenant = Tenant.objects.get(pk=printed["id"])
    assert printed["slug"] == "globex-corp"
    assert printed["license_subject"] == str(tenant.license_subject)
    assert tenant.timezone == "America/New_York"


@pytest.mark.django_db
def test_create_tenant_takes_an_explicit_slug():
    printed = json.loads(run("create_tenant", "Globex", "--slug", "gx"))
    assert printed["slug"] == "gx"


@pytest.mark.django_db
def test_create_tenant_refuses_an_unknown_time_zone_and_creates_nothing():
    with pytest.raises(CommandError, match="'Mars/Olympus' is not an IANA time zone"):
        run("create_tenant", "Globex", "--timezone", "Mars/Olympus")
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_create_tenant_refuses_a_slug_in_use(tenant_a):
    with pytest.raises(CommandError, match="slug 'tenant-a' already exists"):
        run("create_tenant", "Other", "--slug", "tenant-a")


@pytest.mark.django_db
def test_add_user_makes_an_administrator_with_a_password(tenant_a):
    assert "Added administrator alice to tenant-a" in run(
        "add_user", "tenant-a", "alice", "--admin", "--password", "s3cret-pass"
    )
    alice = get_user_model().objects.get(username="alice")
    assert alice.is_staff and not alice.is_superuser
    assert alice.check_password("s3cret-pass")
    assert alice.membership.tenant == tenant_a


@pytest.mark.django_db
def test_add_user_makes_a_member_by_default(tenant_a):
    run("add_user", "tenant-a", "bob")
    bob = get_user_model().objects.get(username="bob")
    assert not bob.is_staff
    assert not bob.has_usable_password()


@pytest.mark.django_db
def test_add_user_refuses_an_unknown_tenant():
    with pytest.raises(CommandError, match="No tenant has the slug 'nope'"):
        run("add_user", "nope", "bob")


@pytest.mark.django_db
def test_add_user_refuses_a_taken_username(member_a):
    with pytest.raises(CommandError, match="'member-a' already exists"):
        run("add_user", "tenant-a", "member-a")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "username, message",
    [
        ("", "The username '' is not valid: This field cannot be blank."),
        ("bad name!", "The username 'bad name!' is not valid: Enter a valid username."),
        ("u" * 151, "is not valid: Ensure this value has at most 150 characters (it has 151)."),
    ],
    ids=["empty", "spaces-and-punctuation", "too-long"],
)
def test_add_user_refuses_a_username_django_would_refuse_and_creates_nothing(
    tenant_a, username, message
):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("add_user", "tenant-a", username)
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_add_user_refuses_a_password_the_validators_refuse_and_creates_nothing(tenant_a):
    with pytest.raises(
        CommandError,
        match=re.escape(
            "The password is not accepted: This password is too short. "
            "It must contain at least 8 characters."
        ),
    ):
        run("add_user", "tenant-a", "alice", "--admin", "--password", "x")
    assert not get_user_model().objects.exists()
