"""The theme's colours: the default dark palette and an organization's brand colours made readable.

An organization picks two brand colours (primary and accent). They replace the purple and pink of the
default theme, but a colour someone picked is not always readable: dark navy text on our dark
background, or white text on a pale yellow button. :func:`brand_theme` therefore derives, for each
colour, a *fill* (buttons, badges) with the text colour that reads on it, and a *text* variant
lightened until it reaches WCAG AA (4.5:1) on the darkest surface it is drawn on.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_ACCENT",
    "DEFAULT_PRIMARY",
    "SURFACE",
    "brand_theme",
    "contrast_ratio",
    "is_hex_color",
    "normalize_hex",
]

DEFAULT_PRIMARY = "#7c3aed"
DEFAULT_ACCENT = "#db2777"
SURFACE = "#181524"
"""The surface cards and the sidebar use; text variants must read on it (the page background is darker)."""
LIGHT_TEXT = "#ffffff"
DARK_TEXT = "#12101a"
AA_NORMAL = 4.5
GRADIENT = "linear-gradient(90deg, var(--accent), var(--accent-2))"
SOLID = "var(--accent)"
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def is_hex_color(value: str) -> bool:
    return bool(_HEX.match(value.strip()))


def normalize_hex(value: str) -> str:
    """``#abc`` or ``#AABBCC`` as ``#aabbcc``; ``ValueError`` for anything else."""
    value = value.strip()
    if not _HEX.match(value):
        raise ValueError(f"not a hex colour: {value!r}")
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def _rgb(color: str) -> tuple[float, float, float]:
    digits = normalize_hex(color)[1:]
    return tuple(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, c)) * 255):02x}" for c in rgb)


def _luminance(color: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio, from 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _mix(color: str, other: str, amount: float) -> str:
    a, b = _rgb(color), _rgb(other)
    return _hex(tuple(x + (y - x) * amount for x, y in zip(a, b, strict=True)))  # type: ignore[arg-type]


def readable_text_on(fill: str) -> str:
    """White or near-black, whichever reads better on ``fill``."""
    return max((LIGHT_TEXT, DARK_TEXT), key=lambda text: contrast_ratio(text, fill))


def text_variant(color: str, background: str = SURFACE) -> str:
    """``color`` lightened just enough to read as text on ``background`` (AA for normal text)."""
    for step in range(21):
        candidate = _mix(color, LIGHT_TEXT, step / 20)
        if contrast_ratio(candidate, background) >= AA_NORMAL:
            return candidate
    return LIGHT_TEXT


def brand_theme(primary: str | None, accent: str | None) -> dict[str, str]:
    """CSS custom properties for the brand colours; empty when the organization keeps the defaults."""
    if not primary and not accent:
        return {}
    variables: dict[str, str] = {}
    for name, value, default in (("accent", primary, DEFAULT_PRIMARY), ("accent-2", accent, DEFAULT_ACCENT)):
        fill = normalize_hex(value) if value else default
        variables[f"--{name}"] = fill
        variables[f"--on-{name}"] = readable_text_on(fill)
        variables[f"--{name}-text"] = text_variant(fill)
    # Primary buttons run a gradient from one fill to the other: their text must read on both ends.
    # When no text colour does (a pale colour next to a dark one), the buttons take the primary alone.
    ends = (variables["--accent"], variables["--accent-2"])
    best = max((LIGHT_TEXT, DARK_TEXT), key=lambda text: min(contrast_ratio(text, end) for end in ends))
    if min(contrast_ratio(best, end) for end in ends) >= AA_NORMAL:
        variables["--on-brand"] = best
        variables["--brand-fill"] = GRADIENT
    else:
        variables["--on-brand"] = variables["--on-accent"]
        variables["--brand-fill"] = SOLID
    return variables


def style_attribute(variables: dict[str, str]) -> str:
    """``--accent: #...; ...`` for a ``style`` attribute (normalised hex colours and the two fills above:
    nothing a person typed goes in unchecked)."""
    return "; ".join(f"{name}: {value}" for name, value in variables.items())
