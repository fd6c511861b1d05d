"""``GET /media/<key>``: public files (organization logos) from the configured storage.

Only keys under ``public/`` are served, to anyone, and only in the shapes :mod:`kernel.storage` hands
out: any other key, a path that tries to climb out of the store, or a file that is gone answers 404.
Keys carry a hash of their content (a changed file gets a new key), so answers are cached for good.
Images are served as what they are; anything else goes out as a download, never as a page of this
site.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from kernel.auth.middleware import PUBLIC
from kernel.storage import current_storage, is_public_key

__all__ = ["ROUTES", "media_file"]

IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}
"""What is shown inline. SVG is not among them: it can carry scripts."""
CACHE_FOREVER = "public, max-age=31536000, immutable"


@get("/media/{key:path}", opt={PUBLIC: True}, include_in_schema=False, name="media")
async def media_file(request: Request[Any, Any, Any], key: FromPath[str]) -> Response[bytes]:
    key = key.removeprefix("/")
    if not is_public_key(key):
        raise NotFoundException()
    try:
        content = await current_storage(request.app.state.kernel).get(key)
    except FileNotFoundError as exc:
        raise NotFoundException() from exc
    extension = key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
    media_type = IMAGE_TYPES.get(extension)
    disposition = "inline" if media_type else "attachment"
    return Response(
        content,
        media_type=media_type or "application/octet-stream",
        headers={
            "Cache-Control": CACHE_FOREVER,
            "Content-Disposition": disposition,
            # A file is never a document of this site: no scripts, no frames, even if one were mislabelled.
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


ROUTES = [media_file]
