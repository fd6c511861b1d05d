"""Uploaded pictures made safe to store and show: decoded by a few known decoders only, turned
upright, stripped of every metadata (EXIF, GPS, text chunks, colour profiles), shrunk to fit, and
written again as PNG. SVG is refused (a script container, not a picture), and so are decompression
bombs. CPU-bound: call :func:`clean_image` in a worker thread.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

__all__ = ["IMAGE_FORMATS", "ImageRefused", "clean_image", "looks_like_svg"]

IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}


class ImageRefused(ValueError):
    """Why an upload is not a picture we keep: ``reason`` is ``empty``, ``too_large``, ``svg``,
    ``too_many_pixels`` or ``unreadable``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def looks_like_svg(data: bytes, filename: str | None, content_type: str | None) -> bool:
    head = data[:512].lstrip().lower()
    return (
        (content_type or "").lower().startswith("image/svg")
        or (filename or "").lower().endswith((".svg", ".svgz"))
        or head.startswith((b"<svg", b"<?xml"))
        or b"<svg" in head
    )


def clean_image(
    data: bytes,
    *,
    max_bytes: int,
    max_side: int,
    max_pixels: int = 4000 * 4000,
    filename: str | None = None,
    content_type: str | None = None,
    refuse: Callable[[str], Exception] = ImageRefused,
) -> bytes:
    """``data`` as a clean PNG within ``max_side`` pixels a side; raises ``refuse(reason)`` otherwise."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise refuse("empty")
    if len(data) > max_bytes:
        raise refuse("too_large")
    if looks_like_svg(data, filename, content_type):
        raise refuse("svg")
    try:
        with warnings.catch_warnings():
            # Pillow only warns about a possible decompression bomb below twice its limit: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only these decoders ever see the bytes: no exotic format parser is reachable from an upload.
            with Image.open(io.BytesIO(data), formats=sorted(IMAGE_FORMATS)) as image:
                if image.width * image.height > max_pixels:
                    raise refuse("too_many_pixels")
                if image.format == "JPEG":
                    image.draft("RGB", (max_side * 2, max_side * 2))  # decode photos at a reduced scale
                image.seek(0)  # the first frame of an animation
                image.load()
                upright = ImageOps.exif_transpose(image)
                has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
                picture = upright.convert("RGBA" if has_alpha else "RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refuse("unreadable") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        if isinstance(exc, ImageRefused):
            raise
        # Truncated or corrupt files surface as any of these from Pillow's decoders.
        raise refuse("unreadable") from None
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # A fresh image carries pixels only: no EXIF (camera, GPS), no text chunks, no colour profile.
    clean = Image.frombytes(picture.mode, picture.size, picture.tobytes())
    output = io.BytesIO()
    clean.save(output, format="PNG", optimize=True)
    return output.getvalue()
