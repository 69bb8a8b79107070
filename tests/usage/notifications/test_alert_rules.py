"""When an alert fires (SPEC §7.1): once per (tenant, type, dimension, threshold, license),
in the transaction that crossed it, with its deliveries enqueued in that transaction."""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from tasks.signals import usage_changed
from tests.factories import LicenseFactory, UserFactory
from tests.usage.notifications.conftest import cross
from usage.notifications import rules
from usage.notifications.alerts import on_license_applied
from usage.notifications.channels import endpoint_create, mutes_replace
from usage.notifications.models import Alert, Delivery


def _jobs() -> list[tuple[str, dict]]:
    """This test's delivery jobs: procrastinate's tables are not Django's, so a flush between
    transactional tests leaves other tests' jobs behind; their deliveries are gone."""
    deliveries = set(Delivery.objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT task_name, args FROM procrastinate_jobs ORDER BY id")
        jobs = [
            (name, json.loads(args) if isinstance(args, str) else args)
            for name, args in cursor.fetchall()
        ]
    return [(name, args) for name, args in jobs if args.get("delivery_id") in deliveries]


def test_thresholds_are_reached_exactly_and_highest_first():
    assert rules.thresholds_crossed_up(used_before=3, used_after=4, cap=5) == [80]
    assert rules.thresholds_crossed_up(used_before=0, used_after=5, cap=5) == [100, 95, 80]
    assert rules.thresholds_crossed_up(used_before=4, used_after=5, cap=5) == [100, 95]
    assert rules.thresholds_crossed_up(used_before=80, used_after=81, cap=100) == []
    assert rules.thresholds_crossed_up(used_before=1, used_after=2, cap=None) == []
    assert rules.thresholds_crossed_down(used_before=8, used_after=7, cap=10) == [80]


def test_license_end_thresholds_only_the_nearest_passed():
    now = timezone.now()
    assert rules.license_end_threshold(ends_at=now + timedelta(days=40), now=now) is None
    assert rules.license_end_threshold(ends_at=now + timedelta(days=30), now=now) == 30
    assert rules.license_end_threshold(ends_at=now + timedelta(days=5), now=now) == 7
    assert rules.license_end_threshold(ends_at=now + timedelta(hours=3), now=now) == 1
    assert rules.license_end_threshold(ends_at=now - timedelta(seconds=1), now=now) == 0
    assert rules.license_end_threshold(ends_at=None, now=now) is None


@pytest.mark.django_db
def test_a_change_that_crosses_nothing_makes_no_query(tenant_a, django_assert_num_queries):
    changes = [("tasks", 10, 11, 100), ("hosts", 3, 2, 10), ("gateways", 3, 4, None)]
    with django_assert_num_queries(0):
        for dimension, before, after, cap in changes:
            usage_changed.send(
                sender=None,
                tenant_id=tenant_a.pk,
                dimension=dimension,
                used_before=before,
                used_after=after,
                cap=cap,
                license_jti="lic-1",
            )


@pytest.mark.django_db
def test_crossing_80_percent_raises_one_alert_with_a_delivery_per_channel(tenant_a):
    UserFactory(username="ada", email="ada@example.com", is_staff=True, tenant=tenant_a)
    UserFactory(username="bob", email="bob@example.com", tenant=tenant_a)  # a member: no email
    endpoint_create(tenant=tenant_a, url="https://93.184.215.14/hook")
    endpoint_create(tenant=tenant_a, url="https://93.184.215.14/slack", kind="slack")

    cross(tenant_a, dimension="tasks", before=79, after=80, cap=100, jti="lic-1")
    cross(tenant_a, dimension="tasks", before=79, after=80, cap=100, jti="lic-1")  # again: no

    alert = Alert.objects.get()
    assert (alert.type, alert.dimension, alert.threshold, alert.scope) == (
        "quota.threshold_crossed", "tasks", 80, "lic-1",
    )  # fmt: skip
    assert sorted(alert.deliveries.values_list("channel", flat=True)) == [
        "email", "slack", "webhook",
    ]  # fmt: skip
    assert [name for name, _ in _jobs()] == ["notifications.deliver"] * 3


@pytest.mark.django_db
def test_a_rolled_back_crossing_leaves_no_alert_and_no_job(tenant_a):
    endpoint_create(tenant=tenant_a, url="https://93.184.215.14/hook")
    with pytest.raises(RuntimeError), transaction.atomic():
        cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
        raise RuntimeError("the guard's insert failed")
    assert not Alert.objects.exists()
    assert _jobs() == []


@pytest.mark.django_db
def test_one_change_across_three_thresholds_fires_each_once_highest_first(tenant_a):
    endpoint_create(tenant=tenant_a, url="https://93.184.215.14/hook")
    cross(tenant_a, dimension="hosts", before=0, after=10, cap=10)
    alerts = Alert.objects.order_by("id")
    assert [a.threshold for a in alerts] == [100, 95, 80]
    deliveries = Delivery.objects.order_by("id")
    assert [d.alert.threshold for d in deliveries] == [100, 95, 80]
    assert [args["delivery_id"] for _, args in _jobs()] == [d.pk for d in deliveries]


@pytest.mark.django_db
def test_a_muted_alert_is_recorded_as_muted_and_sends_nothing(tenant_a):
    endpoint_create(tenant=tenant_a, url="https://93.184.215.14/hook")
    mutes_replace(
        tenant=tenant_a,
        mutes=[{"type": "quota.threshold_crossed", "dimension": "hosts", "threshold": 80}],
    )
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    cross(tenant_a, dimension="tasks", before=7, after=8, cap=10)
    muted, loud = Alert.objects.order_by("id")
    assert (muted.dimension, muted.muted, muted.deliveries.count()) == ("hosts", True, 0)
    assert (loud.dimension, loud.muted, loud.deliveries.count()) == ("tasks", False, 1)


@pytest.mark.django_db
def test_hosts_falling_below_a_threshold_and_rising_again_fire_again(tenant_a):
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10, jti="lic-1")
    cross(tenant_a, dimension="hosts", before=8, after=9, cap=10, jti="lic-1")  # 90 %: nothing
    cross(tenant_a, dimension="hosts", before=9, after=8, cap=10, jti="lic-1")  # still 80 %
    assert Alert.objects.count() == 1
    cross(tenant_a, dimension="hosts", before=8, after=7, cap=10, jti="lic-1")  # below: re-arm
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10, jti="lic-1")
    first, second = Alert.objects.order_by("id")
    assert first.rearmed_at is not None and second.rearmed_at is None
    assert (first.threshold, second.threshold) == (80, 80)


@pytest.mark.django_db
def test_tasks_never_rearm_but_a_new_license_does(tenant_a):
    cross(tenant_a, dimension="tasks", before=7, after=8, cap=10, jti="lic-1")
    cross(tenant_a, dimension="tasks", before=7, after=8, cap=10, jti="lic-1")
    assert Alert.objects.count() == 1
    cross(tenant_a, dimension="tasks", before=15, after=16, cap=20, jti="lic-2")
    assert list(Alert.objects.order_by("id").values_list("scope", flat=True)) == ["lic-1", "lic-2"]


@pytest.mark.django_db
def test_a_license_applied_near_its_end_fires_only_the_nearest_end_threshold(tenant_a):
    license = LicenseFactory(
        tenant=tenant_a, jti="short", expires_at=timezone.now() + timedelta(days=5)
    )
    with transaction.atomic():
        on_license_applied(None, tenant=tenant_a, license=license, previous=None)
    alert = Alert.objects.get()
    assert (alert.type, alert.threshold, alert.scope) == ("license.expiring", 7, "short")


@pytest.mark.django_db
def test_a_new_license_over_current_usage_fires_the_highest_threshold_reached(tenant_a):
    from tasks.models import Host

    Host.objects.bulk_create(Host(tenant=tenant_a, name=f"h{i}") for i in range(9))
    license = LicenseFactory(tenant=tenant_a, jti="small", hosts_cap=10, expires_at=None)
    with transaction.atomic():
        on_license_applied(None, tenant=tenant_a, license=license, previous=None)
    alert = Alert.objects.get()
    assert (alert.dimension, alert.threshold, alert.payload["data"]["current"]) == ("hosts", 80, 9)


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_crossing_at_once_raise_one_alert(tenant_a):
    endpoint_create(tenant=tenant_a, url="https://93.184.215.14/hook")
    barrier = threading.Barrier(16)
    errors = []

    def racer():
        try:
            barrier.wait()
            cross(tenant_a, dimension="tasks", before=79, after=80, cap=100, jti="lic-race")
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=racer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    alert = Alert.objects.get()
    assert alert.deliveries.count() == 1
    assert len(_jobs()) == 1


@pytest.mark.django_db(transaction=True)
def test_three_processes_crossing_at_once_raise_one_alert(tenant_a):
    endpoint_create(tenant=tenant_a, url="https://93.184.215.14/hook")
    UserFactory(username="ada", email="ada@example.com", is_staff=True, tenant=tenant_a)
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
    }
    start_at = time.time() + 3  # after every process has set Django up
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.usage.notifications.cross_in_process",
                str(tenant_a.pk),
                str(start_at),
            ],
            env=env,
        )  # fmt: skip
        for _ in range(3)
    ]
    assert [process.wait(60) for process in processes] == [0, 0, 0]
    alert = Alert.objects.get()
    assert sorted(alert.deliveries.values_list("channel", flat=True)) == ["email", "webhook"]
    assert len(_jobs()) == 2


@pytest.mark.django_db
def test_applying_a_license_through_the_service_raises_its_end_alert(tenant_a, vendor, admin_a):
    from licensing.services import license_apply

    ends = int((timezone.now() + timedelta(days=20)).timestamp())
    license = license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, exp=ends), acting_user=admin_a
    )
    alert = Alert.objects.get()
    assert (alert.type, alert.threshold, alert.scope) == ("license.expiring", 30, license.jti)
    assert alert.payload["data"]["license_ends_at"] == license.expires_at.isoformat()
