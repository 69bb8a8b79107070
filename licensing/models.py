import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (for example Europe/Paris).")


class Tenant(models.Model):
    """A customer organisation; everything it owns is filtered by it."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    # What the vendor puts in a license's `sub`; never changes once made.
    license_subject = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Membership(models.Model):
    """Every user but an operator belongs to exactly one tenant (one row per user)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}"


class License(models.Model):
    """A verified, applied license token. Rows are never edited in place, only archived."""

    class Kind(models.TextChoices):
        CONTRACT = "contract", "Contract"
        TRIAL = "trial", "Trial"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="licenses")
    jti = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    customer = models.CharField(max_length=255, blank=True)
    # Caps per dimension; NULL means unlimited.
    hosts_cap = models.PositiveIntegerField(null=True, blank=True)
    gateways_cap = models.PositiveIntegerField(null=True, blank=True)
    tasks_cap = models.PositiveIntegerField(null=True, blank=True)
    issued_at = models.DateTimeField()
    starts_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)  # NULL: perpetual
    token = models.TextField()
    claims = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The applier's username as it was, kept when the user is deleted; "" = no user (system).
    applied_by_name = models.CharField(max_length=150, blank=True)
    applied_at = models.DateTimeField()
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-applied_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(status="active"),
                name="one_active_license_per_tenant",
            ),
            models.CheckConstraint(
                condition=Q(status="active", archived_at__isnull=True)
                | Q(status="archived", archived_at__isnull=False),
                name="archived_license_has_archived_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} license {self.jti} ({self.status})"

    def cap(self, dimension: str) -> int | None:
        return getattr(self, f"{dimension}_cap")

    @property
    def caps(self) -> dict[str, int | None]:
        return {dimension: self.cap(dimension) for dimension in ("hosts", "gateways", "tasks")}

    @property
    def is_perpetual(self) -> bool:
        return self.expires_at is None


class LicenseAuditRecord(models.Model):
    """One row per license change of a tenant: who applied what, when, replacing what."""

    class Action(models.TextChoices):
        APPLIED = "applied", "Applied"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="license_audit")
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.APPLIED)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The username as it was, kept even if the user is deleted later.
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField()
    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="+")
    previous_license = models.ForeignKey(
        License, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        replaced = f" replacing {self.previous_license.jti}" if self.previous_license else ""
        return f"{self.actor_name or 'system'} {self.action} {self.license.jti}{replaced}"


class ApiToken(models.Model):
    """An API token of a user (SPEC §6.1). Only the SHA-256 of its secret is kept: the secret
    (`tly_...`, 256 random bits) is shown once at creation and can never be read again."""

    class Scope(models.TextChoices):
        FULL = "full", "Full: the user's own rights"
        READ = "read", "Read: GET requests only"
        USAGE = "usage", "Usage: report usage events and authorize LLM calls only"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.FULL)
    # The first characters of the secret, enough for a person to tell tokens apart.
    prefix = models.CharField(max_length=16)
    # Unique, so a lookup by the presented secret's hash is one index probe.
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # NULL: never expires
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"
