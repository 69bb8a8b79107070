"""Writes about tenants, their users and their licenses."""

import zoneinfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from licensing.models import Membership, Tenant


def tenant_create(*, name: str, slug: str | None = None, timezone: str = "UTC") -> Tenant:
    """Create a tenant; the slug defaults to one made from the name."""
    slug = slug or slugify(name)
    if not slug:
        raise ValidationError({"slug": "A slug is needed: the name has no letters or digits."})
    if timezone not in zoneinfo.available_timezones():
        raise ValidationError({"timezone": f"{timezone!r} is not an IANA time zone."})
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A tenant with slug {slug!r} already exists."})
    tenant = Tenant(name=name, slug=slug, timezone=timezone)
    tenant.full_clean()
    tenant.save()
    return tenant


def user_add(
    *, tenant: Tenant, username: str, admin: bool = False, password: str | None = None
) -> AbstractBaseUser:
    """Create a user of `tenant`: an administrator (`is_staff`) or a member."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"A user named {username!r} already exists."})
    with transaction.atomic():
        user = User(username=username, is_staff=admin)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        Membership.objects.create(user=user, tenant=tenant)
    return user
