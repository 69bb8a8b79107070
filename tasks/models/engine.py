"""What the engine leaves behind for the pages: when it last finished a pass."""

from django.db import models
from django.db.models import Q

# The one row's primary key: there is one engine heartbeat, however many engines run.
HEARTBEAT_ID = 1


class EngineHeartbeat(models.Model):
    """One row: when an engine last finished a pass over every tenant (`tasks.engine.run_pass`).

    Each full pass writes it with one UPDATE of this row, and the tickets page reads it by
    primary key, so saying whether an engine runs costs neither side a scan.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=HEARTBEAT_ID)
    last_pass_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=HEARTBEAT_ID), name="engine_heartbeat_one_row"),
        ]

    def __str__(self) -> str:
        return f"last engine pass {self.last_pass_at:%Y-%m-%d %H:%M:%S}"
