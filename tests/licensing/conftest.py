"""Licensing tests only: no network. The vendor, its keys and tokens are shared by every app's
tests (tests/factories.py, and the `vendor` fixture in tests/conftest.py)."""

import pytest


@pytest.fixture
def no_network(monkeypatch):
    """Any socket connection or URL fetch fails the test loudly."""
    import socket
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("license verification must never touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
