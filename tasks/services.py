"""Writes for hosts, gateways and tasks: the one guarded creation path per dimension.

Each create has the tenant's entitlements in hand BEFORE its transaction (nothing slow
inside the locked window) and raises `CapReached` / `LicenseExpired` (licensing.errors)
on refusal.
Every entry point (pages, API, Django admin, the engine) calls these.
"""

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from licensing.models import Tenant
from licensing.selectors import tenant_entitlements
from tasks import guards
from tasks.models import Gateway, Host, Task, Ticket
from tasks.models.assets import TASK_DESCRIPTION_MAX_LENGTH


def _bounded_text(field: str, value: str, *, max_length: int) -> str:
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


def _required_text(field: str, value: str, *, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: "This field is required."})
    return _bounded_text(field, value, max_length=max_length)


def _same_tenant(field: str, obj, tenant: Tenant) -> None:
    if obj is not None and obj.tenant_id != tenant.pk:
        raise ValidationError({field: f"No such {field} in this tenant."})


def _new_task(
    *,
    tenant: Tenant,
    title: str,
    source: str,
    description: str,
    host: Host | None,
    kind: str,
    creator: AbstractBaseUser | None,
    ticket: Ticket | None,
) -> Task:
    """The validated, unsaved task both creation paths insert; `ValidationError` for bad input."""
    title = _required_text("title", title, max_length=300)
    description = _bounded_text(
        "description", description or "", max_length=TASK_DESCRIPTION_MAX_LENGTH
    )
    if source not in Task.Source.values:
        raise ValidationError({"source": f"{source!r} is not a task source."})
    if kind not in Task.Kind.values:
        raise ValidationError({"kind": f"{kind!r} is not a task kind."})
    _same_tenant("host", host, tenant)
    _same_tenant("ticket", ticket, tenant)
    return Task(
        tenant=tenant,
        title=title,
        description=description,
        host=host,
        kind=kind,
        source=source,
        creator=creator,
        ticket=ticket,
    )


def task_create(
    *,
    tenant: Tenant,
    title: str,
    source: str,
    description: str = "",
    host: Host | None = None,
    kind: str = Task.Kind.AD_HOC,
    creator: AbstractBaseUser | None = None,
    ticket: Ticket | None = None,
) -> Task:
    """Create a task, counted against the tenant's lifetime tasks cap.

    Raises `CapReached("tasks", ...)` at the cap, `LicenseExpired("tasks", ...)` when the
    license has expired, `ValidationError` for bad input. Runs in a transaction of its own;
    the cap is enforced by `tasks.guards.insert_task` right after the insert.
    """
    task = _new_task(
        tenant=tenant,
        title=title,
        source=source,
        description=description,
        host=host,
        kind=kind,
        creator=creator,
        ticket=ticket,
    )
    guards.insert_task(task)
    return task


def task_create_in_transaction(
    *,
    tenant: Tenant,
    title: str,
    source: str,
    description: str = "",
    host: Host | None = None,
    kind: str = Task.Kind.AD_HOC,
    creator: AbstractBaseUser | None = None,
    ticket: Ticket | None = None,
) -> Task:
    """`task_create` for a caller that already holds a transaction (the engine).

    Same validation and same refusals (`CapReached`, `LicenseExpired`, `CapCheckBusy`,
    `ValidationError`). The insert is counted by `tasks.guards.admit_task` in the caller's
    transaction, which keeps the tenant's counter row locked until the caller commits; on
    a refusal the insert has happened, so the caller must roll back (a savepoint around
    this call is enough). Raises `TransactionManagementError` outside a transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "task_create_in_transaction() must run inside the caller's transaction "
            "(transaction.atomic()); outside one, use task_create()."
        )
    task = _new_task(
        tenant=tenant,
        title=title,
        source=source,
        description=description,
        host=host,
        kind=kind,
        creator=creator,
        ticket=ticket,
    )
    # Read before the insert: the counter row lock is taken last, by admit_task.
    task._guard_entitlements = tenant_entitlements(tenant)
    with transaction.atomic(savepoint=False):
        task.save(savepoint=False)  # the post_save guard counts it with admit_task
    return task


def task_delete(*, task: Task) -> None:
    """Delete a task. The lifetime count does not go down: no slot is given back."""
    with transaction.atomic(durable=True):
        task.delete()


def host_register(*, tenant: Tenant, name: str) -> Host:
    """Register a host within the hosts cap (hosts registered now); raises like task_create."""
    name = _required_text("name", name, max_length=200)
    entitlements = tenant_entitlements(tenant)
    with transaction.atomic(durable=True):
        guards.admit_asset(tenant=tenant, dimension="hosts", entitlements=entitlements)
        return Host.objects.create(tenant=tenant, name=name)


def host_delete(*, host: Host) -> None:
    """Delete a host: its slot is free again. Its tasks keep running without a target."""
    with transaction.atomic(durable=True):
        host.delete()


def gateway_secret_hash(secret: str) -> str:
    """What is stored of a gateway's ingest secret; deliveries compare against it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def gateway_create(*, tenant: Tenant, name: str, kind: str) -> tuple[Gateway, str]:
    """Create a gateway within the gateways cap; returns it and its ingest secret.

    The secret is returned only here, to be shown once; only its SHA-256 is stored.
    """
    name = _required_text("name", name, max_length=200)
    if kind not in Gateway.Kind.values:
        raise ValidationError({"kind": f"{kind!r} is not a gateway kind."})
    entitlements = tenant_entitlements(tenant)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic(durable=True):
        guards.admit_asset(tenant=tenant, dimension="gateways", entitlements=entitlements)
        gateway = Gateway.objects.create(
            tenant=tenant, name=name, kind=kind, secret_hash=gateway_secret_hash(secret)
        )
    return gateway, secret


def gateway_revoke(*, gateway: Gateway) -> None:
    """Revoke a gateway: its slot is free again and its deliveries are refused from now on.

    It is not deleted: the tickets it delivered are kept (tickets are never lost) and
    pending ones are still converted. Revoking a revoked gateway changes nothing.
    Raises `CapCheckBusy` when the tenant's lock is held too long.
    """
    with transaction.atomic(durable=True):
        guards.lock_tenant_assets(tenant=gateway.tenant, dimension="gateways")
        Gateway.objects.registered().filter(pk=gateway.pk).update(revoked_at=timezone.now())
