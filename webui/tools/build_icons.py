"""Build ``webui/static/vendor/lucide/icons.svg``: a sprite of the Lucide icons the UI and plugins use.

Run at development time, never at run time (the sprite is committed)::

    cd /tmp && npm pack lucide-static@<version> && tar xzf lucide-static-<version>.tgz
    python webui/tools/build_icons.py /tmp/package

Icons are referenced as ``<use href="/static/vendor/lucide/icons.svg#<name>">`` (the ``icon`` macro in
``webui/templates/components/ui.html``). Add a name to ``ICONS`` and rebuild to offer a new one.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

ICONS = (
    "activity",
    "arrow-left",
    "arrow-right",
    "banknote",
    "bell",
    "book-marked",
    "book-open",
    "bot",
    "brain",
    "building-2",
    "calendar",
    "chart-column",
    "chart-line",
    "check",
    "chevron-down",
    "chevron-left",
    "chevron-right",
    "circle",
    "circle-check",
    "circle-help",
    "circle-x",
    "clock",
    "copy",
    "credit-card",
    "crown",
    "download",
    "ellipsis-vertical",
    "external-link",
    "eye",
    "eye-off",
    "file-text",
    "filter",
    "folder",
    "globe",
    "headphones",
    "history",
    "hourglass",
    "house",
    "image",
    "inbox",
    "info",
    "kanban-square",
    "key-round",
    "languages",
    "layers",
    "layout-dashboard",
    "list-checks",
    "loader-circle",
    "lock",
    "log-in",
    "log-out",
    "mail",
    "menu",
    "message-circle",
    "message-square",
    "moon",
    "package",
    "palette",
    "pause",
    "pencil",
    "phone",
    "play",
    "plug",
    "plus",
    "power",
    "puzzle",
    "qr-code",
    "receipt-text",
    "refresh-cw",
    "rocket",
    "scroll-text",
    "search",
    "send",
    "server",
    "settings",
    "shield",
    "shopping-cart",
    "smartphone",
    "sparkles",
    "store",
    "sun",
    "tag",
    "trash-2",
    "triangle-alert",
    "unlock",
    "upload",
    "user-cog",
    "user-plus",
    "user-round",
    "user-x",
    "users",
    "wallet",
    "webhook",
    "workflow",
    "x",
    "zap",
)

TARGET = Path(__file__).resolve().parents[1] / "static" / "vendor" / "lucide"
_INNER = re.compile(r"<svg[^>]*>(.*)</svg>", re.S)


def build(package: Path) -> None:
    symbols = []
    for name in ICONS:
        svg = (package / "icons" / f"{name}.svg").read_text(encoding="utf-8")
        inner = _INNER.search(svg)
        if inner is None:
            raise SystemExit(f"{name}.svg has no <svg> element")
        body = " ".join(line.strip() for line in inner.group(1).splitlines() if line.strip())
        symbols.append(f'<symbol id="{name}" viewBox="0 0 24 24">{body}</symbol>')
    version = json.loads((package / "package.json").read_text())["version"]
    TARGET.mkdir(parents=True, exist_ok=True)
    (TARGET / "icons.svg").write_text(
        f"<!-- Lucide {version} (ISC, see LICENSE): {len(ICONS)} icons -->\n"
        '<svg xmlns="http://www.w3.org/2000/svg" fill="none" stroke="currentColor" stroke-width="2" '
        'stroke-linecap="round" stroke-linejoin="round">\n' + "\n".join(symbols) + "\n</svg>\n",
        encoding="utf-8",
    )
    shutil.copy(package / "LICENSE", TARGET / "LICENSE")
    print(f"wrote {TARGET / 'icons.svg'} with {len(ICONS)} icons from lucide-static {version}")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
