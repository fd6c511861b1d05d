"""The platform administration: organizations, plans, plugins, global defaults."""
