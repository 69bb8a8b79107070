"""The cap guard: every task insert, and every host or gateway registration, passes here.

Tasks (SPEC §3): the lifetime counter row is incremented by a conditional
`UPDATE ... SET used = used + 1 WHERE used < cap` issued right AFTER the task's insert, in
the insert's transaction. The row lock that UPDATE takes is therefore held only from the
last statement before commit to the commit; the entitlements are read before it. The
guard is a `post_save` receiver for every `Task` (and subclass) insert, so a plain
`Task.objects.create` passes it too; `Task.save()` opens the transaction it needs.

Hosts and gateways: `used` is how many exist now, so the tenant row is locked before
counting, and the caller inserts in the same transaction.
"""

from typing import Any

from django.db import OperationalError, connections, models
from django.db.models import F

from licensing.errors import CapReached, DomainError, LicenseExpired
from licensing.models import Tenant
from licensing.selectors import Entitlements, tenant_entitlements
from tasks.models import Gateway, Host, Task, TaskCounter

# A holder stuck inside the locked window makes others fail fast with a clean refusal
# instead of piling up behind it.
LOCK_TIMEOUT = "2s"
LOCK_NOT_AVAILABLE = "55P03"

ASSET_MODELS: dict[str, type[models.Model]] = {"hosts": Host, "gateways": Gateway}


class CapCheckBusy(DomainError):
    """The cap could not be checked in time because another writer holds the lock."""

    code = "cap_check_busy"
    http_status = 503

    def __init__(self, dimension: str) -> None:
        self.dimension = dimension
        super().__init__(
            f"The {dimension} cap could not be checked in time because another change holds "
            "it; nothing was created. Try again in a moment."
        )

    def extra(self) -> dict[str, Any]:
        return {"dimension": self.dimension}


def dimension_used(tenant: Tenant, dimension: str) -> int:
    """What counts against the cap now: lifetime tasks created, hosts or gateways registered."""
    if dimension == "tasks":
        used = TaskCounter.objects.filter(tenant=tenant).values_list("used", flat=True).first()
        return used or 0
    return ASSET_MODELS[dimension].objects.filter(tenant=tenant).count()


def refuse_if_no_room(dimension: str, entitlements: Entitlements, *, used: int) -> None:
    """Raise the refusal for `dimension`: expired license (a hard block) or cap reached."""
    cap = entitlements.cap(dimension)
    if entitlements.is_expired:
        raise LicenseExpired(dimension, used=used, cap=cap, expired_at=entitlements.ends_at)
    if cap is not None and used >= cap:
        raise CapReached(dimension, used=used, cap=cap)


def refuse_tasks_if_expired(tenant: Tenant, entitlements: Entitlements) -> None:
    """The expired check done before any transaction, so an expired tenant inserts nothing."""
    if entitlements.is_expired:
        refuse_if_no_room("tasks", entitlements, used=dimension_used(tenant, "tasks"))


def remember_entitlements(task: Task, entitlements: Entitlements) -> None:
    """Hand the entitlements a service read before its transaction to the guard of `task`."""
    task._guard_entitlements = entitlements


def _set_lock_timeout(using: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def _is_lock_timeout(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE


def admit_task(*, tenant_id: int, entitlements: Entitlements, using: str = "default") -> None:
    """Count one inserted task against the lifetime cap, or raise; call right after the insert.

    Must run in the insert's transaction: a refusal rolls the insert back with it.
    """
    cap = entitlements.cap("tasks")
    counters = TaskCounter.objects.using(using).filter(tenant_id=tenant_id)
    if entitlements.is_expired:
        used = counters.values_list("used", flat=True).first() or 0
        refuse_if_no_room("tasks", entitlements, used=used)
    admitted = counters if cap is None else counters.filter(used__lt=cap)
    _set_lock_timeout(using)
    for _attempt in range(2):
        try:
            # Row lock on the tenant's counter: serialises concurrent admissions so two
            # inserts can never both take the last slot; held from here to commit only.
            if admitted.update(used=F("used") + 1, admitted_cap=cap):
                return
        except OperationalError as error:
            if _is_lock_timeout(error):
                raise CapCheckBusy("tasks") from error
            raise
        used = counters.values_list("used", flat=True).first()
        if used is not None:
            raise CapReached("tasks", used=used, cap=cap)
        # A tenant made before its counter existed: create the row, then count again.
        TaskCounter.objects.using(using).bulk_create(
            [TaskCounter(tenant_id=tenant_id)], ignore_conflicts=True
        )
    raise RuntimeError(f"The task counter of tenant {tenant_id} could not be created.")


def count_new_task(sender, instance, created: bool, using: str, **kwargs) -> None:
    """post_save receiver: every inserted `Task` is counted, whichever ORM path inserted it."""
    if not created or not isinstance(instance, Task):
        return
    entitlements = instance.__dict__.pop("_guard_entitlements", None)
    if entitlements is None:
        entitlements = tenant_entitlements(instance.tenant)
    try:
        admit_task(tenant_id=instance.tenant_id, entitlements=entitlements, using=using)
    except DomainError:
        if not connections[using].in_atomic_block:
            # Saved with no transaction around it (save_base called directly): the insert
            # is committed already, so take it back.
            Task.objects.using(using).filter(pk=instance.pk).delete()
        instance.pk = None
        instance._state.adding = True
        raise


def create_task_counter(sender, instance, created: bool, raw: bool, using: str, **kwargs) -> None:
    """post_save receiver for Tenant: every tenant starts with its counter row at 0."""
    if created and not raw:
        TaskCounter.objects.using(using).bulk_create(
            [TaskCounter(tenant_id=instance.pk)], ignore_conflicts=True
        )


def admit_asset(*, tenant: Tenant, dimension: str, entitlements: Entitlements) -> None:
    """Lock the tenant row, count `dimension`, raise if there is no room.

    Call inside the transaction that then inserts the host or gateway.
    """
    _set_lock_timeout("default")
    try:
        # Tenant row lock: serialises host and gateway registrations of the tenant so two
        # cannot both count room for the last one. NO KEY UPDATE, so concurrent task inserts
        # (which key-share lock the tenant through their foreign key) never wait on it.
        list(Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).values("pk"))
    except OperationalError as error:
        if _is_lock_timeout(error):
            raise CapCheckBusy(dimension) from error
        raise
    refuse_if_no_room(dimension, entitlements, used=dimension_used(tenant, dimension))
