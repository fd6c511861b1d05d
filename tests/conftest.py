"""Fixtures come from the ``atendai`` pytest plugin (kernel/testing/plugin.py), as for any plugin."""
