"""The tasks app's models: assets, tasks and their counter, tickets and schedules."""

from tasks.models.assets import Gateway, Host
from tasks.models.engine import EngineHeartbeat
from tasks.models.tasks import Task, TaskCounter
from tasks.models.tickets import Schedule, ScheduleTick, Ticket

__all__ = [
    "EngineHeartbeat",
    "Gateway",
    "Host",
    "Task",
    "TaskCounter",
    "Ticket",
    "Schedule",
    "ScheduleTick",
]
