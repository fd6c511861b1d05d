"""Outgoing HTTP to addresses that users give us: webhooks, knowledge imports, Evolution API servers.

A URL typed by a tenant must not become a way into our own network (server-side request forgery).
Every request made through :func:`safe_client` is checked in the transport, just before it is sent:

- only ``http`` and ``https``, and no user name or password inside the URL;
- the host is resolved **once**; if any of its addresses is loopback, private, link-local, CGNAT,
  multicast, reserved, for documentation or benchmarking, or a cloud metadata endpoint, the request
  is refused (:class:`UnsafeURL`), for IPv4, IPv6 and IPv6 forms that carry an IPv4 address;
- the connection goes to the addresses that were checked, never to a second lookup, so a name that
  changes its answer between check and connect (DNS rebinding) cannot reach a refused address; the
  ``Host`` header and TLS SNI keep the original name, so certificates are verified as usual;
- redirects are followed here, not by httpx, and every hop is checked again (at most five);
- connect, read and total time are limited, and so is the size of the body (:class:`OutgoingRequestFailed`).

``ATENDAI_HTTP_ALLOW`` (:meth:`AllowList.from_settings`) lifts the refusal for the networks and host
names the operator lists, such as an Evolution API server on the LAN. See ``docs/outgoing-http.md``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cache
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Any, Self

import anyio
import httpcore
import httpx
import structlog

from kernel.config import Settings, SettingsError
from kernel.errors import ProviderError, ValidationFailed
from kernel.i18n.catalogs import N_

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_REDIRECTS",
    "AllowList",
    "OutgoingRequestFailed",
    "ResolvedTarget",
    "Resolver",
    "SafeClient",
    "SafeTransport",
    "UnsafeURL",
    "check_url",
    "is_refused",
    "safe_client",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: how a host name becomes IP addresses. Tests pass a fake one."""

MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
DEFAULT_PORTS = {"http": 80, "https": 443}

log = structlog.get_logger("kernel.http")


class UnsafeURL(ValidationFailed):
    """A URL we will not fetch: another scheme, credentials inside it, or an address in a private network."""

    slug = "unsafe-url"


class OutgoingRequestFailed(ProviderError):
    """The other server could not be found or reached, was too slow, redirected too often or sent too much."""

    slug = "outgoing-request-failed"


# -- which addresses are refused ---------------------------------------------------------------


def _networks(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


_REFUSED_IPV4 = _networks(
    "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
    "10.0.0.0/8",  # private (RFC 1918)
    "100.64.0.0/10",  # carrier-grade NAT; Alibaba Cloud's metadata (100.100.100.200) is here
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local; the AWS, GCP, Azure and OCI metadata endpoint 169.254.169.254
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation (TEST-NET-1)
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # private
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation (TEST-NET-2)
    "203.0.113.0/24",  # documentation (TEST-NET-3)
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, with the broadcast address 255.255.255.255
)
# Only global unicast (2000::/3) is reachable at all; these are the holes inside it, plus the well-known
# ranges outside it, listed so that the refusal reads as a list of reasons.
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_REFUSED_IPV6 = _networks(
    "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form (::127.0.0.1)
    "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765)
    "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
    "100::/64",  # discard-only
    "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) and benchmarking among them
    "2001:db8::/32",  # documentation
    "3fff::/20",  # documentation (RFC 9637)
    "fc00::/7",  # unique local; the AWS metadata endpoint fd00:ec2::254 is here
    "fe80::/10",  # link-local
    "fec0::/10",  # deprecated site-local
    "ff00::/8",  # multicast
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Names that reach a metadata service through the cloud's own DNS, whatever address they resolve to.
_METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)


def is_refused(address: IPAddress) -> bool:
    """Whether ``address`` is outside the public internet (before any allow-list is applied).

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``,
    6to4 ``2002:aabb:ccdd::``) are judged by that IPv4 address, because that is where they lead.
    """
    address = _canonical(address)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_refused(embedded)
    if _stdlib_says_internal(address):
        return True
    if isinstance(address, ipaddress.IPv4Address):
        return any(address in network for network in _REFUSED_IPV4)
    return address not in _GLOBAL_UNICAST or any(address in network for network in _REFUSED_IPV6)


def _canonical(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address is an IPv4 address; connecting to either reaches the same host."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _stdlib_says_internal(address: IPAddress) -> bool:
    """A second opinion from :mod:`ipaddress`, which learns new special ranges with Python releases."""
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


# -- the operator's allow-list -----------------------------------------------------------------


@dataclass(frozen=True)
class AllowList:
    """Networks and host names the operator trusts although they are private (``ATENDAI_HTTP_ALLOW``).

    A network entry lifts the refusal for addresses inside it; a name entry lifts it for that exact
    host name, whatever it resolves to. Everything else stays refused.
    """

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        """Read ``"10.0.0.5/32, evolution.internal"``; raises ``ValueError`` naming a bad entry."""
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for entry in (part.strip() for part in (text or "").split(",")):
            if not entry:
                continue
            network = _network_or_none(entry)
            if network is not None:
                networks.append(network)
            elif _is_host_name(_normalized_name(entry)):
                names.add(_normalized_name(entry))
            else:
                raise ValueError(f"{entry!r} is neither a network (10.0.0.0/8, 10.0.0.5) nor a host name")
        return cls(networks=tuple(networks), names=frozenset(names))

    @classmethod
    def from_settings(cls, settings: Settings) -> AllowList:
        """The allow-list of ``ATENDAI_HTTP_ALLOW``; a bad entry is a ``SettingsError`` naming the variable."""
        try:
            return cls.parse(settings.http_allow)
        except ValueError as exc:
            raise SettingsError(f"ATENDAI_HTTP_ALLOW: {exc}") from exc

    def permits_name(self, host: str) -> bool:
        return _normalized_name(host) in self.names

    def permits_address(self, address: IPAddress) -> bool:
        address = _canonical(address)
        return any(address in network for network in self.networks if network.version == address.version)


def _network_or_none(entry: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


# -- checking a URL ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedTarget:
    """Where a checked URL may be fetched from: the only addresses a connection for it may use."""

    scheme: str
    host: str
    """The host as the URL names it: lower case, IDNA-encoded, without a trailing dot."""
    port: int
    addresses: tuple[str, ...]
    """Every address the host resolved to, each one checked; connections are made to these, in order."""

    @property
    def address(self) -> str:
        return self.addresses[0]


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo`` in a worker thread, so the loop keeps running)."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutgoingRequestFailed(N_("The host %(host)s could not be found."), host=host) from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_url(url: str, *, allow: AllowList | None = None, resolver: Resolver | None = None) -> ResolvedTarget:
    """Validate ``url`` and resolve its host once; raise :class:`UnsafeURL` if it leads somewhere private.

    Use it to reject a bad webhook or server address when a user saves it. The transport of
    :func:`safe_client` calls it again before every request and redirect, because DNS answers change.
    """
    parsed = _parse(url)
    host = _normalized_name(parsed.raw_host.decode("ascii"))
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    allow = allow or AllowList()
    literal = _literal_address(host)
    named_by_operator = literal is None and allow.permits_name(host)
    if literal is None and host in _METADATA_NAMES and not named_by_operator:
        raise _refused(host, "metadata_name")
    addresses = [literal] if literal is not None else await _resolve(host, port, resolver or system_resolver)
    if not named_by_operator:
        for address in addresses:
            if is_refused(address) and not allow.permits_address(address):
                raise _refused(host, "private_address")
    return ResolvedTarget(
        scheme=parsed.scheme, host=host, port=port, addresses=tuple(str(_canonical(a)) for a in addresses)
    )


def _parse(url: str | httpx.URL) -> httpx.URL:
    """Parse with httpx itself, so the URL we check is the URL httpx would send."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise _invalid(str(url)) from exc
    if parsed.scheme not in DEFAULT_PORTS:
        raise UnsafeURL(
            N_("Only http and https addresses are allowed, not %(scheme)s."), scheme=parsed.scheme or "(none)"
        )
    if parsed.userinfo:
        raise UnsafeURL(N_("Addresses with a user name or password in them are not allowed."))
    if not parsed.raw_host or (parsed.port is not None and not 0 < parsed.port < 65536):
        raise _invalid(str(url))
    return parsed


def _normalized_name(host: str) -> str:
    """``Example.COM.`` and ``example.com`` are the same host; the trailing dot only skips search domains."""
    return host.strip().lower().removesuffix(".")


_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# The shapes inet_aton accepts for one part of an IPv4 address: decimal, octal (leading 0) or hex (0x).
_NUMBER = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


def _is_host_name(host: str) -> bool:
    return 0 < len(host) <= 253 and all(_LABEL.match(label) for label in host.split("."))


def _literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP stands for, in any spelling the resolver would accept."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError as exc:
            raise _invalid(host) from exc
    if _NUMBER.match(host.rsplit(".", 1)[-1]):
        # Browsers and getaddrinfo read 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 as 127.0.0.1.
        return _legacy_ipv4(host)
    if not _is_host_name(host):
        raise _invalid(host)
    return None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address:
    """Read an IPv4 address the way ``inet_aton`` does: 1 to 4 numbers, the last one filling the rest."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMBER.match(part) for part in parts):
        raise _invalid(host)
    try:
        *leading, last = (_number(part) for part in parts)
    except ValueError as exc:
        raise _invalid(host) from exc
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(parts)):
        raise _invalid(host)
    value = last
    for position, byte in enumerate(leading):
        value += byte << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def _number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


async def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    answers = await resolver(host, port)
    if not answers:
        raise OutgoingRequestFailed(N_("The host %(host)s could not be found."), host=host)
    try:
        return [ipaddress.ip_address(answer) for answer in answers]
    except ValueError as exc:
        raise OutgoingRequestFailed(N_("The host %(host)s could not be found."), host=host) from exc


def _invalid(url: str) -> UnsafeURL:
    return UnsafeURL(N_("%(url)s is not a valid web address."), url=url)


def _refused(host: str, reason: str) -> UnsafeURL:
    # Logged so an operator who sees this for their own LAN server knows to add ATENDAI_HTTP_ALLOW.
    log.warning("outgoing_request_refused", host=host, reason=reason)
    return UnsafeURL(N_("The address %(host)s is not allowed: it points to a private or internal network."), host=host)


# -- pinning the connection to the checked addresses -------------------------------------------

# (host, port, addresses) of the request this task is sending. httpcore opens the connection in the
# task that sends the request, so the backend below sees the value the transport set just before.
_pinned: ContextVar[tuple[str, int, tuple[str, ...]] | None] = ContextVar("atendai_http_pinned", default=None)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to the addresses the check approved, never by looking the name up again."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    # The signatures are httpcore's network backend interface, timeout parameter included.
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pin = _pinned.get()
        if pin is None or pin[:2] != (host, port):
            raise httpcore.ConnectError(f"refusing a connection to {host}:{port} that was not checked")
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in pin[2]:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("outgoing requests never use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _LimitedStream(httpx.AsyncByteStream):
    """A response body that stops with an error once it passes ``max_bytes`` on the wire."""

    def __init__(self, inner: httpx.AsyncByteStream, max_bytes: int, host: str) -> None:
        self._inner, self._max_bytes, self._host = inner, max_bytes, host

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._inner:
            received += len(chunk)
            if received > self._max_bytes:
                raise _too_large(self._host, self._max_bytes)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class SafeTransport(httpx.AsyncHTTPTransport):
    """httpx transport that checks every request's URL and connects only to the addresses it checked.

    ``Host`` and TLS SNI stay the URL's name, because the request itself is not rewritten: only the
    connection layer is told which addresses to use. Connections are pooled per host name as usual.
    """

    def __init__(
        self,
        *,
        allow: AllowList | None = None,
        resolver: Resolver | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        ssl_context: ssl.SSLContext | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        context = ssl_context or _default_ssl_context()
        super().__init__(verify=context, trust_env=False)
        # httpx offers no public way to pass a network backend, so the pool it built is replaced. If a
        # future httpx stores it elsewhere, stop here rather than connect without the pin.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("this httpx version is not supported by kernel.http")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_PinnedBackend(network_backend),
        )
        self._allow = allow or AllowList()
        self._resolver = resolver
        self._max_bytes = max_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = await check_url(str(request.url), allow=self._allow, resolver=self._resolver)
        token = _pinned.set((request.url.raw_host.decode("ascii"), target.port, target.addresses))
        try:
            response = await super().handle_async_request(request)
        finally:
            _pinned.reset(token)
        return await self._limited(response, target.host)

    async def _limited(self, response: httpx.Response, host: str) -> httpx.Response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            await response.aclose()
            raise _too_large(host, self._max_bytes)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _LimitedStream(response.stream, self._max_bytes, host)
        return response


@cache
def _default_ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle takes milliseconds; one context serves every client (it holds no connection state)."""
    return httpx.create_ssl_context()


def _too_large(host: str, max_bytes: int) -> OutgoingRequestFailed:
    return OutgoingRequestFailed(
        N_("The response from %(host)s is larger than %(limit)s bytes."), host=host, limit=max_bytes
    )


# -- the client --------------------------------------------------------------------------------

# Headers that may follow a redirect to another origin; credentials (Authorization, an Evolution
# "apikey", cookies) stay with the origin they were meant for.
_PORTABLE_HEADERS = frozenset({"user-agent", "accept", "accept-language", "accept-encoding"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})
_DECODED_AWAY = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True)
class _Hop:
    """One request of a redirect chain, with what is needed to build the next one."""

    method: str
    url: httpx.URL
    headers: httpx.Headers
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] = field(default_factory=dict)


class SafeClient:
    """An httpx client for user-given URLs: checked, pinned, redirect-aware and size-limited.

    ``get``/``post``/``request`` return a response whose body is already read (and limited after
    decompression too); ``stream`` yields one to read in chunks. Close it with ``aclose`` or use it as
    ``async with safe_client() as http:``.
    """

    def __init__(
        self,
        *,
        allow: AllowList | None = None,
        timeout: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        headers: Mapping[str, str] | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._headers = httpx.Headers({"User-Agent": "Atendai"})
        self._headers.update(headers or {})
        self._client = httpx.AsyncClient(
            transport=SafeTransport(allow=allow, resolver=resolver, max_bytes=max_bytes, ssl_context=ssl_context),
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout), read=min(READ_TIMEOUT, timeout)),
            follow_redirects=False,
            trust_env=False,
            # One client may serve many tenants: a cookie one server sets must not be sent on another's behalf.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def get(self, url: str, **options: Any) -> httpx.Response:
        """``request("GET", ...)``: the body comes back read, so the connection is free again at once."""
        return await self.request("GET", url, **options)

    async def post(self, url: str, **options: Any) -> httpx.Response:
        """``request("POST", ...)``, the usual call for delivering a webhook."""
        return await self.request("POST", url, **options)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send the request, follow redirects, and read the whole body (at most ``max_bytes``) in ``timeout``."""
        hop = self._first_hop(method, url, headers, params, {"content": content, "data": data, "json": json})
        with _translated_failures(hop.url):
            with anyio.fail_after(self._timeout):
                response = await self._follow(hop)
                try:
                    body = await self._read(response)
                finally:
                    await response.aclose()
        return _with_body(response, body)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> AsyncIterator[httpx.Response]:
        """Yield the final response with its body unread; the total timeout covers reaching its headers.

        The body is limited to ``max_bytes`` as it arrives. ``Accept-Encoding: identity`` is asked for
        unless you set it, because a compressed body can grow far past the limit once decoded.
        """
        request_headers = {"Accept-Encoding": "identity", **(headers or {})}
        hop = self._first_hop(method, url, request_headers, params, {"content": content, "data": data, "json": json})
        with _translated_failures(hop.url):
            with anyio.fail_after(self._timeout):
                response = await self._follow(hop)
            try:
                yield response
            finally:
                await response.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections; a client kept for a job or an integration is closed once, at its end."""
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    def _first_hop(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        body: dict[str, Any],
    ) -> _Hop:
        merged = httpx.Headers(self._headers)
        merged.update(headers or {})
        present = {key: value for key, value in body.items() if value is not None}
        return _Hop(method=method.upper(), url=_parse(url), headers=merged, params=params, body=present)

    async def _follow(self, hop: _Hop) -> httpx.Response:
        """Send ``hop`` and the redirects after it (each checked by the transport); the last response is unread."""
        history: list[httpx.Response] = []
        while True:
            request = self._client.build_request(
                hop.method, hop.url, headers=hop.headers, params=hop.params, **hop.body
            )
            response = await self._client.send(request, stream=True)
            if not response.has_redirect_location:
                response.history = history
                return response
            await response.aclose()
            history.append(response)
            if len(history) > MAX_REDIRECTS:
                raise OutgoingRequestFailed(
                    N_("%(host)s redirected more than %(limit)s times."), host=hop.url.host, limit=MAX_REDIRECTS
                )
            hop = _next_hop(hop, response)

    async def _read(self, response: httpx.Response) -> bytes:
        """The decoded body, refused past ``max_bytes`` so a small compressed body cannot fill the memory."""
        chunks: list[bytes] = []
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > self._max_bytes:
                raise _too_large(response.url.host, self._max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)


def safe_client(
    *,
    allow: AllowList | None = None,
    timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    headers: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> SafeClient:
    """The client for any URL a user or tenant gave us. Pass ``AllowList.from_settings(settings)`` as ``allow``.

    ``timeout`` is the total time of one call in seconds (connecting is limited to 5 s and each read
    to 30 s within it); ``max_bytes`` limits a response body; ``headers`` go with every request (and
    only the harmless ones follow a redirect to another origin). ``resolver`` is for tests;
    ``ssl_context`` for servers whose certificates come from a private authority.
    """
    return SafeClient(
        allow=allow, timeout=timeout, max_bytes=max_bytes, headers=headers, resolver=resolver, ssl_context=ssl_context
    )


def _next_hop(hop: _Hop, response: httpx.Response) -> _Hop:
    """The request a redirect asks for, as browsers and httpx build it."""
    location = response.headers["location"]
    try:
        url = _parse(response.request.url.join(location))
    except httpx.InvalidURL as exc:
        raise _invalid(location) from exc
    method = _redirect_method(hop.method, response.status_code)
    headers = hop.headers if _origin(url) == _origin(response.request.url) else _portable(hop.headers)
    if method != hop.method:
        return _Hop(method=method, url=url, headers=_without(headers, _BODY_HEADERS))
    return replace(hop, url=url, headers=headers, params=None)


def _redirect_method(method: str, status: int) -> str:
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port or DEFAULT_PORTS.get(url.scheme)


def _portable(headers: httpx.Headers) -> httpx.Headers:
    return httpx.Headers([(key, value) for key, value in headers.multi_items() if key.lower() in _PORTABLE_HEADERS])


def _without(headers: httpx.Headers, names: frozenset[str]) -> httpx.Headers:
    return httpx.Headers([(key, value) for key, value in headers.multi_items() if key.lower() not in names])


def _with_body(response: httpx.Response, body: bytes) -> httpx.Response:
    """A closed response carrying the decoded body, so ``.content``, ``.text`` and ``.json()`` just work."""
    complete = httpx.Response(
        response.status_code,
        headers=_without(response.headers, _DECODED_AWAY),
        content=body,
        request=response.request,
        extensions=response.extensions,
    )
    complete.history = response.history
    complete.elapsed = response.elapsed
    return complete


@contextmanager
def _translated_failures(url: httpx.URL) -> Iterator[None]:
    """httpx's and anyio's errors as the kernel's typed error, naming the host the caller asked for."""
    try:
        yield
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise OutgoingRequestFailed(N_("%(host)s did not answer in time."), host=url.host) from exc
    except httpx.HTTPError as exc:
        raise OutgoingRequestFailed(N_("The request to %(host)s failed."), host=url.host) from exc
