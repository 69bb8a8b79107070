"""Fixtures for the tasks tests."""

import pytest
import time_machine

from tests.tasks.ticket_helpers import REGISTERED


@pytest.fixture
def clock():
    """Time stands still at REGISTERED until a test moves it (`clock.move_to`)."""
    with time_machine.travel(REGISTERED, tick=False) as traveller:
        yield traveller
