"""The licensing tests' vendor (real keys in a temporary folder) for the license entry points."""

from tests.licensing.conftest import vendor  # noqa: F401 - a fixture, used by name
