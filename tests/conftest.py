"""Fixtures come from the ``atendai`` pytest plugin (kernel/testing/plugin.py), as for any plugin, and the
fake model servers' from ``tests/fakes/fixtures.py`` and the fake website's ``serve`` from ``tests/fakes/website.py``."""

pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.website"]
