"""The tasks app's models: assets and tasks (caps issue), tickets and schedules (engine issue)."""

from tasks.models.assets import Gateway, Host, Task, TaskCounter
from tasks.models.tickets import Schedule, ScheduleTick, Ticket

__all__ = ["Gateway", "Host", "Task", "TaskCounter", "Ticket", "Schedule", "ScheduleTick"]
