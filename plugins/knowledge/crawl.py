"""Fetching web pages to import: one URL, a sitemap, or a small site followed link by link.

The HTTP client is passed in: in the app it is the kernel's SSRF-safe client, in tests a plain
``httpx.AsyncClient``. Only its ``stream("GET", url, headers=...)`` is used, and redirects are followed
here when the client leaves them to us. One page's failure is never raised: it comes back as a
:class:`Page` with its status or ``error`` set, so the caller can list the broken URLs.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from email.message import Message
from pathlib import PurePosixPath
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import anyio
import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from selectolax.lexbor import LexborHTMLParser

__all__ = [
    "PAGE_TYPES",
    "USER_AGENT",
    "HttpClient",
    "Page",
    "crawl",
    "extract_links",
    "fetch",
    "normalize_url",
    "parse_sitemap",
]

USER_AGENT = "AtendaiBot"
"""The name robots.txt rules are matched against; requests say ``AtendaiBot/1.0``."""
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "application/pdf"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
MAX_REDIRECTS = 5
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
"""The sitemap protocol's own limit, for a sitemap as sent and once decompressed."""
MAX_SITEMAPS = 20
MAX_ROBOTS_BYTES = 500 * 1024
FETCHES_PER_PAGE = 3
"""A crawl gives up after ``limit`` times this many requests, however many were skipped (other file types)."""

_HEADERS = {
    "User-Agent": f"{USER_AGENT}/1.0",
    "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.5",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PARAMS = frozenset({"gclid", "fbclid", "msclkid", "dclid", "mc_cid", "mc_eid"})
_NOT_PAGES = frozenset(
    {
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".bmp", ".tif", ".tiff", ".avif", ".heic",
        ".css", ".js", ".mjs", ".map", ".json", ".woff", ".woff2", ".ttf", ".otf", ".eot",
        ".zip", ".gz", ".tgz", ".tar", ".rar", ".7z", ".exe", ".dmg", ".apk",
        ".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".mp3", ".m4a", ".wav", ".ogg", ".flac",
    }
)  # fmt: skip
_SKIPPED_SCHEMES = ("mailto:", "tel:", "javascript:", "data:", "sms:", "whatsapp:")


class HttpClient(Protocol):
    """What is asked of the client: ``httpx.AsyncClient`` and the kernel's ``SafeClient`` both fit."""

    def stream(self, method: str, url: str, *, headers: dict[str, str]) -> Any: ...


@dataclass
class Page:
    """One fetched URL. ``url`` is where the content came from, after redirects.

    ``status`` is 0 when no answer came (``error`` says why: ``timeout``, ``unreachable``, ``invalid_url``,
    ``too_many_redirects``, ``robots_disallowed``, or the client's own code such as ``unsafe_url``). With
    an answer, ``error`` is ``too_large`` or ``unsupported_type`` when the body was not kept, else None.
    """

    url: str
    status: int
    content_type: str = ""
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None

    @property
    def media_type(self) -> str:
        """``text/html`` out of ``text/html; charset=utf-8``."""
        return self.content_type.split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        message = Message()
        message["content-type"] = self.content_type
        charset = message.get_param("charset")
        return charset if isinstance(charset, str) else None

    @property
    def ok(self) -> bool:
        """A 2xx answer whose body was kept."""
        return 200 <= self.status < 300 and self.error is None


# -- URLs ------------------------------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """One spelling per page: scheme and host in lower case, no default port, fragment or tracking parameters.

    The path and the other query parameters stay as they were, in their order; an empty path is ``/``.
    Raises ``ValueError`` for a URL without scheme and host or with an invalid port.
    """
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if not scheme or not host:
        raise ValueError(f"not an absolute URL: {url!r}")
    netloc = f"[{host}]" if ":" in host else host
    port = parts.port
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{netloc}:{port}"
    if "@" in parts.netloc:
        netloc = f"{parts.netloc.rpartition('@')[0]}@{netloc}"
    query = "&".join(pair for pair in parts.query.split("&") if pair and not _is_tracking(pair.split("=", 1)[0]))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


def _site(url: str) -> str:
    """The host a page belongs to, ``www.`` or not."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def extract_links(html: str | bytes, base_url: str, *, same_host: bool = True) -> list[str]:
    """The page's ``<a>`` and ``<area>`` links worth following, absolute and normalized, in order, once each.

    Only http(s) links, of ``base_url``'s host unless ``same_host`` is false (``www.`` is the same host);
    no ``rel=nofollow`` links, and none to images, media, styles, scripts or archives. Documents such as
    PDFs are kept. ``<base href>`` is honoured.
    """
    tree = LexborHTMLParser(html if isinstance(html, str) else html.decode("utf-8", errors="replace"))
    base = base_url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = urljoin(base_url, (base_node.attributes.get("href") or "").strip())
    site = _site(base_url)
    links: list[str] = []
    for node in tree.css("a[href], area[href]"):
        attributes = node.attributes
        if "nofollow" in (attributes.get("rel") or "").lower().split():
            continue
        href = (attributes.get("href") or "").strip()
        if not href or href.startswith("#") or href.lower().startswith(_SKIPPED_SCHEMES):
            continue
        try:
            url = normalize_url(urljoin(base, href))
        except ValueError:
            continue
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or (same_host and _site(url) != site):
            continue
        if PurePosixPath(parts.path).suffix.lower() in _NOT_PAGES:
            continue
        if url not in links:
            links.append(url)
    return links


# -- sitemaps --------------------------------------------------------------------------------------


def parse_sitemap(data: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) of a sitemap, a sitemap index or a plain list of URLs, gzipped or not.

    Raises ``ValueError`` for anything else (an HTML error page, broken XML, XML entities, more than
    50 MB once decompressed).
    """
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, MAX_SITEMAP_BYTES)
    data = data.removeprefix(b"\xef\xbb\xbf").strip()
    if not data.startswith(b"<"):
        lines = data.decode("utf-8", errors="replace").splitlines()
        return _unique(line.strip() for line in lines if line.strip().lower().startswith(("http://", "https://"))), []
    try:
        root = fromstring(data)
    except (ParseError, DefusedXmlException) as exc:
        raise ValueError(f"not a sitemap: {exc}") from exc
    if _local_name(root.tag) not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap: the root element is {_local_name(root.tag)!r}")
    pages: list[str] = []
    nested: list[str] = []
    for entry in root:
        location = next((child.text for child in entry if _local_name(child.tag) == "loc"), None)
        location = (location or "").strip()
        if not location.lower().startswith(("http://", "https://")):
            continue
        if _local_name(entry.tag) == "url":
            pages.append(location)
        elif _local_name(entry.tag) == "sitemap":
            nested.append(location)
    return _unique(pages), _unique(nested)


def _local_name(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _unique(urls: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(urls))


def _gunzip(data: bytes, limit: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as archive:
            unpacked = archive.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"broken gzip data: {exc}") from exc
    if len(unpacked) > limit:
        raise ValueError(f"more than {limit} bytes once decompressed")
    return unpacked


# -- fetching --------------------------------------------------------------------------------------


async def fetch(
    client: HttpClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 15.0,  # noqa: ASYNC109 - a limit per request, as a crawl sets it for each of its requests
    max_bytes: int = 5_000_000,
) -> Page:
    """GET one page, conditionally when ``etag`` or ``last_modified`` come from an earlier fetch (304: empty body).

    The body is kept only for HTML, plain text and PDF (else ``error="unsupported_type"``) and only up to
    ``max_bytes`` (else ``error="too_large"``); ``timeout`` covers the whole request, body included.
    """
    headers = dict(_HEADERS)
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return await _get(client, url, headers=headers, seconds=timeout, max_bytes=max_bytes, accept=PAGE_TYPES)


async def _get(
    client: HttpClient,
    url: str,
    *,
    headers: dict[str, str],
    seconds: float,
    max_bytes: int,
    accept: frozenset[str] | None,
) -> Page:
    try:
        with anyio.fail_after(seconds):
            return await _follow(client, url, headers=headers, max_bytes=max_bytes, accept=accept)
    except (TimeoutError, httpx.TimeoutException):
        return Page(url=url, status=0, error="timeout")
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        return Page(url=url, status=0, error="invalid_url")
    except httpx.HTTPError:
        return Page(url=url, status=0, error="unreachable")
    except Exception as exc:
        # The caller's client raises its own errors (the kernel's refuses private addresses, for one);
        # their slug is the code, and one URL's failure must not end the whole import.
        slug = getattr(exc, "slug", None)
        return Page(url=url, status=0, error=slug.replace("-", "_") if isinstance(slug, str) else "fetch_failed")


async def _follow(
    client: HttpClient, url: str, *, headers: dict[str, str], max_bytes: int, accept: frozenset[str] | None
) -> Page:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        async with client.stream("GET", current, headers=headers) as response:
            location = response.headers.get("location")
            if response.is_redirect and location:
                current = str(response.url.join(location))
                continue
            return await _page(response, max_bytes=max_bytes, accept=accept)
    return Page(url=current, status=0, error="too_many_redirects")


async def _page(response: httpx.Response, *, max_bytes: int, accept: frozenset[str] | None) -> Page:
    page = Page(
        url=str(response.url),
        status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )
    if not 200 <= page.status < 300:
        return page
    if accept is not None and page.media_type not in accept:
        page.error = "unsupported_type"
        return page
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        page.error = "too_large"
        return page
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            page.error = "too_large"
            return page
        chunks.append(chunk)
    page.body = b"".join(chunks)
    return page


# -- crawling --------------------------------------------------------------------------------------


async def crawl(
    client: HttpClient,
    start_url: str,
    *,
    limit: int = 50,
    same_domain_only: bool = True,
    use_sitemap: bool = True,
    timeout: float = 15.0,  # noqa: ASYNC109 - for each request, not for the whole crawl
    max_bytes: int = 5_000_000,
) -> AsyncIterator[Page]:
    """Up to ``limit`` pages of a site: those its sitemap lists, or else those reached by links from ``start_url``.

    The sitemap is ``start_url`` itself when it ends in ``.xml`` (or ``.xml.gz``), else ``/sitemap.xml`` and
    those robots.txt names. URLs robots.txt disallows for ``AtendaiBot`` are skipped, and so are answers
    that are not HTML, plain text or PDF. Failures are yielded like pages and count towards ``limit``.
    The start URL, when it is visited, is reported whatever happens: invalid, disallowed or of another
    type, it comes back with that ``error``.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    try:
        start = normalize_url(start_url)
    except ValueError:
        yield Page(url=start_url, status=0, error="invalid_url")
        return
    crawler = _Crawler(
        client, start=start, same_domain_only=same_domain_only, timeout=timeout, max_bytes=max_bytes, limit=limit
    )
    if use_sitemap:
        for url in await crawler.sitemap_urls():
            if crawler.done:
                return
            page = await crawler.visit(url)
            if page is not None:
                yield page
        if crawler.yielded:
            return
    queue = deque([start])
    while queue and not crawler.done:
        page = await crawler.visit(queue.popleft())
        if page is None:
            continue
        if page.ok and page.media_type in HTML_TYPES:
            queue.extend(crawler.new_links(page))
        yield page


class _Crawler:
    """What one crawl remembers: the site's hosts, robots.txt per origin, the URLs seen and the counts."""

    def __init__(
        self, client: HttpClient, *, start: str, same_domain_only: bool, timeout: float, max_bytes: int, limit: int
    ) -> None:
        self._client = client
        self._start = start
        self._same_domain_only = same_domain_only
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._limit = limit
        self._sites = {_site(start)}
        self._robots: dict[str, RobotFileParser | None] = {}
        self._seen: set[str] = set()
        self._fetches = 0
        self.yielded = 0

    @property
    def done(self) -> bool:
        return self.yielded >= self._limit or self._fetches >= self._limit * FETCHES_PER_PAGE

    def in_scope(self, url: str) -> bool:
        return not self._same_domain_only or _site(url) in self._sites

    async def visit(self, url: str) -> Page | None:
        """Fetch ``url`` unless seen, out of scope or disallowed; None when there is nothing to yield."""
        is_start = url == self._start
        if url in self._seen or not (is_start or self.in_scope(url)):
            return None
        self._seen.add(url)
        if not await self._allowed(url):
            return self._counted(Page(url=url, status=0, error="robots_disallowed")) if is_start else None
        self._fetches += 1
        page = await fetch(self._client, url, timeout=self._timeout, max_bytes=self._max_bytes)
        if page.status:
            final = _normalized_or_none(page.url)
            if final:
                self._seen.add(final)
                if is_start:
                    # A site reached through a redirect (example.com to shop.example.com) is that site.
                    self._sites.add(_site(final))
        if page.error == "unsupported_type" and not is_start:
            return None
        return self._counted(page)

    def new_links(self, page: Page) -> list[str]:
        return [
            link
            for link in extract_links(page.body, page.url, same_host=self._same_domain_only)
            if link not in self._seen and self.in_scope(link)
        ]

    async def sitemap_urls(self) -> list[str]:
        """Page URLs of the site's sitemaps in their order, through sitemap indexes breadth first.

        No more are gathered than the crawl could fetch, and at most ``MAX_SITEMAPS`` sitemaps are read.
        """
        if urlsplit(self._start).path.lower().endswith((".xml", ".xml.gz")):
            queue = deque([self._start])
        else:
            origin = _origin(self._start)
            robots = await self._robots_for(origin)
            listed = robots.site_maps() if robots is not None else None
            queue = deque(_unique([f"{origin}/sitemap.xml", *(listed or [])]))
        fetched: set[str] = set()
        pages: list[str] = []
        while queue and len(fetched) < MAX_SITEMAPS and len(pages) < self._limit * FETCHES_PER_PAGE:
            url = queue.popleft()
            if url in fetched:
                continue
            fetched.add(url)
            page = await _get(
                self._client, url, headers=_HEADERS, seconds=self._timeout, max_bytes=MAX_SITEMAP_BYTES, accept=None
            )
            if not page.ok:
                continue
            try:
                found, nested = parse_sitemap(page.body)
            except ValueError:
                continue
            pages.extend(
                location for location in map(_normalized_or_none, found) if location and self.in_scope(location)
            )
            queue.extend(nested)
        return _unique(pages)

    def _counted(self, page: Page) -> Page:
        self.yielded += 1
        return page

    async def _allowed(self, url: str) -> bool:
        robots = await self._robots_for(_origin(url))
        return robots is None or robots.can_fetch(USER_AGENT, url)

    async def _robots_for(self, origin: str) -> RobotFileParser | None:
        """The origin's robots.txt, read once; None (everything allowed) when it cannot be read."""
        if origin not in self._robots:
            page = await _get(
                self._client,
                f"{origin}/robots.txt",
                headers=_HEADERS,
                seconds=self._timeout,
                max_bytes=MAX_ROBOTS_BYTES,
                accept=None,
            )
            parser: RobotFileParser | None = None
            if page.ok:
                parser = RobotFileParser()
                parser.parse(page.body.decode("utf-8", errors="replace").splitlines())
            self._robots[origin] = parser
        return self._robots[origin]


def _normalized_or_none(url: str) -> str | None:
    try:
        return normalize_url(url)
    except ValueError:
        return None
