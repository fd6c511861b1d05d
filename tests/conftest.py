"""Fixtures come from the ``atendai`` pytest plugin (kernel/testing/plugin.py), as for any plugin, and the
fake model servers' from ``tests/fakes/fixtures.py``."""

pytest_plugins = ["tests.fakes.fixtures"]
