from django.apps import AppConfig
from django.db.models.signals import post_save


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Hosts, gateways, tickets and tasks"

    def ready(self) -> None:
        from licensing.models import Tenant
        from licensing.selectors import register_rejected_tickets_reader, register_usage_reader
        from licensing.signals import license_applied
        from tasks import guards
        from tasks.selectors import rejected_ticket_count, tenant_usage

        # No sender filter: proxies and subclasses of Task are guarded too (the receiver
        # checks isinstance).
        post_save.connect(guards.count_new_task, dispatch_uid="tasks.guards.count_new_task")
        post_save.connect(
            guards.create_task_counter,
            sender=Tenant,
            dispatch_uid="tasks.guards.create_task_counter",
        )
        license_applied.connect(
            guards.mirror_applied_license, dispatch_uid="tasks.guards.mirror_applied_license"
        )
        # Licensing's pages and API show usage without knowing the tables that hold it.
        register_usage_reader(tenant_usage)
        # The license page points to rejected tickets to retry once a license is applied.
        register_rejected_tickets_reader(rejected_ticket_count)
