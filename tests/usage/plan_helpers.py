"""Shared set-up for the plan card, banner and page tests: counts without going through caps."""

from tasks.models import Gateway, Host, TaskCounter


def set_usage(tenant, *, hosts: int = 0, gateways: int = 0, tasks: int = 0) -> None:
    """Registers `hosts` hosts and `gateways` gateways, and sets the lifetime tasks counter."""
    Host.objects.bulk_create(Host(tenant=tenant, name=f"host-{n}") for n in range(hosts))
    Gateway.objects.bulk_create(
        Gateway(tenant=tenant, name=f"gateway-{n}", kind="webhook", secret_hash="x")
        for n in range(gateways)
    )
    TaskCounter.objects.update_or_create(tenant=tenant, defaults={"used": tasks})
