"""Atendai example plugin: tenant notes with an API, a page, a tool and an event."""
