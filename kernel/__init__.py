"""The Atendai kernel: configuration, database, tenancy, plugins and the app factory."""

__version__ = "0.1.0"
