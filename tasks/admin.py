"""The Django admin for operators (SPEC §1): each part of the tasks app registers its models."""

from tasks import ticket_admin  # noqa: F401  tickets and schedules
