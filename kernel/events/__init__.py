"""Domain events: the typed envelope every event travels in."""
