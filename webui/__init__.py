"""The web shell: base layout, theme and static assets shared by every plugin's pages."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
