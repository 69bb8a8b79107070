"""The demo's story holds (`seed_demo`): what an administrator and an operator see in it.

Seeded once for the class (`setUpTestData`: the seed takes seconds), with the development
key trusted and local webhook endpoints allowed, as `bin/demo` runs it. The pages are then
read with DEBUG off (Django's debug cursor cannot COPY with parameters: the CSV export).
"""

import csv
import io
import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.utils import timezone

from licensing.models import License, Tenant
from licensing.selectors import tenant_entitlements
from tasks.models import Schedule, Task, Ticket
from usage.budgets.selectors import budget_card
from usage.demo import DEMO_LOGINS, DEMO_SLUG, seed_demo
from usage.demo.acme import DEMO_CAPS, FIRST_CAPS
from usage.models import LlmModel, PricingPlan, UsageEvent
from usage.notifications.models import Alert, Attempt, Delivery, Endpoint
from usage.plan import plan_usage_with_projections
from usage.projections import month_of
from usage.task_counts import TaskCountSnapshot, daily_tasks

LOGINS = {login.role: login for login in DEMO_LOGINS}
DEV_KEYS = Path(tempfile.gettempdir()) / "tally-test-demo-dev-keys"


@override_settings(LICENSE_PUBLIC_KEYS="", LICENSE_DEV_KEY_DIR=DEV_KEYS, WEBHOOK_ALLOW_PRIVATE=True)
class TheDemoStory(TestCase):
    @classmethod
    def setUpTestData(cls):
        with override_settings(DEBUG=True):  # the development key is trusted only then
            cls.demo = seed_demo()
        assert cls.demo is not None
        cls.now = timezone.now()

    def _log_in(self, role: str) -> None:
        """The README's login: its password is right (the login form's axes backend wants a
        request, which `client.login` has not), then a session."""
        login = LOGINS[role]
        user = get_user_model().objects.get(username=login.username)
        assert user.check_password(login.password)
        self.client.force_login(user)

    def test_the_plan_card_projects_the_tasks_cap_running_out_before_the_license_ends(self):
        plan = plan_usage_with_projections(self.demo)
        projection = plan.projection
        assert projection.status == "runs_out_before_license_end"
        assert plan.ends_at is not None and plan.starts_at is not None
        assert projection.cap_reached_on < plan.ends_at.astimezone(self.demo.zone).date()
        assert 20 < projection.days_until_cap < 150
        self._log_in("administrator")
        page = self.client.get("/usage/").content.decode()
        assert "before the license ends" in page  # the banner says it too
        assert f"{projection.cap_reached_on:%-d %b %Y}" in page

    def test_the_contract_is_months_old_and_grew_out_of_its_first_license(self):
        first, upgrade = License.objects.filter(tenant=self.demo).order_by("issued_at")
        assert first.caps == FIRST_CAPS and first.status == License.Status.ARCHIVED
        assert upgrade.caps == DEMO_CAPS and upgrade.status == License.Status.ACTIVE
        assert (self.now - first.starts_at).days >= 150  # the contract began months ago
        assert first.expires_at == upgrade.expires_at  # the upgrade kept the end date
        assert (upgrade.expires_at - self.now).days >= 150
        assert first.applied_at < upgrade.applied_at < self.now

    def test_tasks_are_spread_over_the_contract_and_the_recent_weeks_are_busier(self):
        license = License.objects.get(tenant=self.demo, status=License.Status.ACTIVE)
        first = License.objects.get(tenant=self.demo, status=License.Status.ARCHIVED)
        tasks = Task.objects.filter(tenant=self.demo)
        assert tasks.filter(created_at__lt=first.starts_at).count() == 0
        months = {task.created_at.astimezone(self.demo.zone).strftime("%Y-%m") for task in tasks}
        assert len(months) >= 6
        snapshots = list(
            TaskCountSnapshot.objects.filter(tenant=self.demo)
            .order_by("day")
            .values_list("day", "tasks_used", "schedule_ticks_created")
        )
        assert len(snapshots) >= 180  # a snapshot a day, as the worker's sweep takes them
        counts = daily_tasks(snapshots).counts
        assert sum(counts[-28:]) > 2 * sum(counts[:28])  # a rising trend
        # Each snapshot agrees with the tasks created before its local midnight.
        day, used, _ = snapshots[-30]
        midnight = timezone.make_aware(
            timezone.datetime.combine(day, timezone.datetime.min.time()), self.demo.zone
        )
        assert tasks.filter(created_at__lt=midnight).count() == used
        assert license.tasks_cap is not None and used < license.tasks_cap

    def test_a_ticket_refused_at_the_first_licenses_cap_says_so_and_others_were_retried(self):
        rejected = Ticket.objects.get(tenant=self.demo, status=Ticket.Status.REJECTED)
        first = License.objects.get(tenant=self.demo, status=License.Status.ARCHIVED)
        cap = first.tasks_cap
        assert rejected.refusal_code == "task_cap_reached"
        assert f"{cap} of {cap} tasks used" in rejected.refusal_detail
        assert first.starts_at < rejected.refused_at < first.archived_at  # under that license
        converted = Ticket.objects.filter(tenant=self.demo, status=Ticket.Status.CONVERTED)
        assert converted.filter(converted_at__gt=first.archived_at).exists()  # retried
        assert converted.filter(task__isnull=False).count() == converted.count() > 50
        assert Ticket.objects.filter(tenant=self.demo, status=Ticket.Status.PENDING).count() == 1
        schedule = Schedule.objects.get(tenant=self.demo)
        assert schedule.ticks.get().status == "created"
        self._log_in("administrator")
        page = self.client.get("/tickets/?status=rejected").content.decode()
        assert "task_cap_reached" in page and f"{cap} of {cap} tasks used" in page

    def test_the_hard_budget_is_near_its_limit_this_month(self):
        card = budget_card(self.demo)
        assert card.budget is not None and card.budget.kind == "hard"
        share = card.usd.spent / card.usd.limit
        assert Decimal("0.85") <= share < 1
        budget_alert = Alert.objects.get(tenant=self.demo, type="budget.threshold_crossed")
        assert budget_alert.threshold == 80
        assert budget_alert.raised_at >= month_of(self.now, self.demo.zone).starts_at

    def test_the_heavy_consumer_has_over_40_percent_of_the_bill(self):
        self._log_in("administrator")
        start = (self.now - timezone.timedelta(days=30)).isoformat()
        answer = self.client.get(
            "/api/v1/usage/export.csv", {"start": start, "end": self.now.isoformat()}
        )
        rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
        cost: dict[str, Decimal] = defaultdict(Decimal)
        for row in rows:
            if row["cost_status"] != "unpriced":  # the whole bill
                cost[row["consumer"]] += Decimal(row["cost_usd"])
        total = sum(cost.values())
        assert cost["agent-triage"] / total > Decimal("0.4")
        assert {row["cost_status"] for row in rows} == {"attributed", "unattributed", "unpriced"}
        assert any(row["succeeded"] == "false" for row in rows)

    def test_usage_covers_six_months_with_a_price_change_and_an_unpriced_model(self):
        events = UsageEvent.objects.filter(tenant=self.demo)
        months = {
            at.astimezone(self.demo.zone).strftime("%Y-%m")
            for at in events.values_list("occurred_at", flat=True)
        }
        assert len(months) >= 7  # six months and this one
        gpt = LlmModel.objects.get(tenant=self.demo, name="gpt-4o")
        first, change = gpt.pricing_plans.order_by("effective_at")
        assert events.filter(model=gpt, occurred_at__lt=change.effective_at).exists()
        assert events.filter(model=gpt, occurred_at__gte=change.effective_at).exists()
        assert first.output_per_million != change.output_per_million
        llama = LlmModel.objects.get(tenant=self.demo, name="llama-local")
        assert not PricingPlan.objects.filter(model=llama).exists()
        assert events.filter(model=llama).exists()
        on_hosts = events.filter(host__name="web-1").count()
        assert on_hosts > events.filter(host__name="db-2").count() > 0
        assert events.filter(host__isnull=True).exists()  # people, from their laptops

    def test_alerts_were_delivered_to_the_local_receiver_and_one_endpoint_is_failing(self):
        receiver, failing = Endpoint.objects.filter(tenant=self.demo).order_by("created_at")
        delivered = Delivery.objects.filter(endpoint=receiver, status=Delivery.Status.DELIVERED)
        assert delivered.count() >= 5 and receiver.status == "healthy"
        assert not Delivery.objects.filter(endpoint=receiver).exclude(status="delivered")
        for delivery in delivered:
            attempt = delivery.attempts.get()
            assert attempt.outcome == Attempt.Outcome.SUCCEEDED and attempt.status_code == 200
            assert delivery.alert.raised_at <= attempt.started_at < delivery.delivered_at
        assert failing.status == "failing"
        attempts = Attempt.objects.filter(delivery__endpoint=failing)
        assert attempts.count() >= 2
        assert set(attempts.values_list("outcome", flat=True)) == {Attempt.Outcome.RETRYING}
        errors = attempts.values_list("error", flat=True)
        assert all("Connection error" in error for error in errors)
        retrying = Delivery.objects.get(endpoint=failing)
        assert retrying.status == "pending" and retrying.next_attempt_at > self.now
        self._log_in("administrator")
        page = self.client.get("/settings/notifications/").content.decode()
        assert "failing" in page.lower()

    def test_the_operator_opens_the_admin_and_the_overview_sorted_by_risk(self):
        self._log_in("operator")
        assert self.client.get("/admin/").status_code == 200
        overview = self.client.get("/admin/overview/")
        assert overview.status_code == 200
        names = [row.name for row in overview.context["rows"]]
        assert names == ["Initech", "Globex", "Acme Robotics", "Umbrella Health"]
        states = {t.slug: tenant_entitlements(t).state for t in Tenant.objects.all()}
        assert states == {
            "initech": "expired",
            "globex": "licensed",
            "demo": "licensed",
            "umbrella": "licensed",
        }
        assert License.objects.get(tenant__slug="globex").kind == "trial"

    def test_seeding_again_adds_nothing(self):
        counts = (Tenant.objects.count(), Task.objects.count(), UsageEvent.objects.count())
        assert seed_demo() is None
        assert (Tenant.objects.count(), Task.objects.count(), UsageEvent.objects.count()) == counts
        assert Tenant.objects.filter(slug=DEMO_SLUG).count() == 1
