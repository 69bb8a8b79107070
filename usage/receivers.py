"""Keeping the rollups in step when a lower layer deletes what usage names."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from tasks.models import Host
from usage.services.rollups import rollups_host_fold


@receiver(pre_delete, sender=Host, dispatch_uid="usage_host_rollups_fold")
def fold_host_rollups(sender, instance: Host, **kwargs) -> None:
    """A deleted host's events keep their usage with no host (SET_NULL); so do its rollups.

    pre_delete runs inside the deletion's transaction, before the rows go.
    """
    rollups_host_fold(host_id=instance.id)
