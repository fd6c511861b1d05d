"""Outgoing requests to user-given URLs never reach private networks (kernel/http.py).

The first half checks URLs only, with a fake resolver, so nothing is sent anywhere. The second half
talks to small HTTP servers the tests start on 127.0.0.1 and 127.0.0.2: no test sends a packet
outside 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kernel.config import SettingsError, load_settings
from kernel.errors import ProviderError, ValidationFailed
from kernel.http import (
    AllowList,
    OutgoingRequestFailed,
    SafeTransport,
    UnsafeURL,
    check_url,
    is_refused,
    safe_client,
)

PUBLIC = "93.184.216.34"
LOOPBACK_ONLY = AllowList.parse("127.0.0.1/32")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail any test of this module that opens a socket to an address outside 127.0.0.0/8."""
    connect = socket.socket.connect

    def checked_connect(sock: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        assert ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8"), f"connection to {address}"
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", checked_connect)


def answering(*answers: str) -> Callable[[str, int], Awaitable[list[str]]]:
    """A resolver that gives the same answers for every name, and never touches the network."""

    async def resolve(host: str, port: int) -> list[str]:
        return list(answers)

    return resolve


# -- refused before anything is sent -------------------------------------------------------------

REFUSED_URLS = [
    # IPv4 ranges, one or two addresses each
    "http://127.0.0.1/",
    "http://127.255.255.254:8080/admin",
    "http://0.0.0.0/",
    "http://10.0.0.5/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.1.1/",
    "http://100.64.0.1/",
    "http://100.100.100.200/latest/meta-data/",
    "http://198.18.0.1/",
    "http://198.19.255.255/",
    "http://192.0.2.1/",
    "http://198.51.100.7/",
    "http://203.0.113.9/",
    "http://192.0.0.8/",
    "http://192.88.99.1/",
    "http://224.0.0.1/",
    "http://239.255.255.250:1900/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    # IPv4 spelled the ways getaddrinfo and browsers accept
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://127.1/",
    "http://0x7f.1/",
    "http://127.0.0.1./",
    "http://127.000.000.001/",
    "http://0/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://169.254.43518/",
    "http://0251.0376.0251.0376/",
    # IPv6, and IPv6 that carries IPv4
    "http://[::1]/",
    "http://[::]/",
    "http://[0:0:0:0:0:0:0:1]:8000/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[::ffff:0:127.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b:1::1]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:c0a8:101::1]/",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    "http://[2001:db8::1]/",
    "http://[3fff::1]/",
    "http://[100::1]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fec0::1]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[ff02::1]/",
    # metadata services by name
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.Google.Internal./computeMetadata/v1/",
    "http://metadata/computeMetadata/v1/",
    # not http, credentials in the URL, not a valid host
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/",
    "ftp://example.com/",
    "dict://example.com:11211/",
    "http://user:secret@example.com/",
    "http://example.com@127.0.0.1/",
    "http://%31%32%37.0.0.1/",
    "http:///no-host",
    "http://1.2.3.4.5/",
    "http://256.0.0.1/",
    "http://example.com:0/",
    "not a url",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_a_private_or_malformed_url_is_refused_without_looking_anything_up(url):
    async def resolver(host: str, port: int) -> list[str]:
        raise AssertionError(f"{host} should be refused before it is resolved")

    with pytest.raises(UnsafeURL):
        await check_url(url, resolver=resolver)


NAMES_THAT_RESOLVE_INSIDE = [
    ("http://internal.example.com/", ["10.1.2.3"]),
    ("http://router.example.com/", ["192.168.0.1"]),
    ("http://loopback.example.com/", ["127.0.0.1"]),
    ("http://metadata.example.com/latest/meta-data/", ["169.254.169.254"]),
    ("http://v6.example.com/", ["::1"]),
    ("http://ula.example.com/", ["fd00:ec2::254"]),
    ("http://mapped.example.com/", ["::ffff:192.168.0.1"]),
    ("http://nat64.example.com/", ["64:ff9b::a00:1"]),
    # one bad answer among good ones is enough: the connection could use any of them
    ("http://mixed.example.com/", [PUBLIC, "10.0.0.1"]),
    ("https://mixed6.example.com/", ["2606:2800:220:1:248:1893:25c8:1946", "fe80::1"]),
]


@pytest.mark.parametrize(("url", "answers"), NAMES_THAT_RESOLVE_INSIDE)
async def test_a_name_that_resolves_to_a_private_address_is_refused(url, answers):
    with pytest.raises(UnsafeURL):
        await check_url(url, resolver=answering(*answers))


@pytest.mark.parametrize("url", ["http://localhost/", "http://LOCALHOST./", "https://localhost:8443/hook"])
async def test_the_system_resolver_sees_localhost_is_loopback(url):
    with pytest.raises(UnsafeURL):
        await check_url(url)


async def test_a_name_that_does_not_resolve_is_an_outside_failure():
    with pytest.raises(OutgoingRequestFailed):
        await check_url("http://nowhere.example.com/", resolver=answering())


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://example.com/", PUBLIC),
        ("https://example.com:8443/hooks?x=1", PUBLIC),
        ("http://bücher.example/", PUBLIC),
        (f"http://{PUBLIC}/", PUBLIC),
        ("http://1572395042/", PUBLIC),
        ("http://0x5d.0xb8.0xd8.0x22/", PUBLIC),
        (f"http://[::ffff:{PUBLIC}]/", PUBLIC),
        ("http://[2606:2800:220:1:248:1893:25c8:1946]/", "2606:2800:220:1:248:1893:25c8:1946"),
        ("http://[64:ff9b::5db8:d822]/", "64:ff9b::5db8:d822"),
        ("http://[2002:5db8:d822::1]/", "2002:5db8:d822::1"),
    ],
)
async def test_a_public_address_is_accepted_and_pinned(url, address):
    target = await check_url(url, resolver=answering(PUBLIC))

    assert target.address == address
    assert target.addresses == (address,)


async def test_every_address_of_a_public_name_is_kept_for_the_connection():
    target = await check_url("https://example.com/", resolver=answering(PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"))

    assert (target.host, target.port) == ("example.com", 443)
    assert target.addresses == (PUBLIC, "2606:2800:220:1:248:1893:25c8:1946")


@pytest.mark.parametrize("address", ["1.1.1.1", "8.8.8.8", "2a00:1450:4001::200e", "64:ff9b::808:808"])
def test_public_addresses_are_not_refused(address):
    assert not is_refused(ipaddress.ip_address(address))


# -- the operator's allow-list ---------------------------------------------------------------------


async def test_an_allowed_network_lifts_the_refusal_for_its_addresses_only():
    allow = AllowList.parse("10.0.0.5/32, evolution.internal")

    assert (await check_url("http://10.0.0.5:8080/", allow=allow)).address == "10.0.0.5"
    with pytest.raises(UnsafeURL):
        await check_url("http://10.0.0.6:8080/", allow=allow)
    with pytest.raises(UnsafeURL):
        await check_url("http://169.254.169.254/", allow=allow)


async def test_an_allowed_name_may_resolve_to_a_private_address_and_other_names_may_not():
    allow = AllowList.parse("evolution.internal")
    lan = answering("192.168.0.9")

    target = await check_url("http://Evolution.Internal.:8080/", allow=allow, resolver=lan)

    assert target.addresses == ("192.168.0.9",)
    with pytest.raises(UnsafeURL):
        await check_url("http://other.internal:8080/", allow=allow, resolver=lan)


async def test_an_allowed_ipv4_network_covers_its_ipv4_mapped_spelling():
    target = await check_url("http://[::ffff:10.0.0.5]/", allow=AllowList.parse("10.0.0.0/24"))

    assert target.address == "10.0.0.5"


def test_the_allow_list_comes_from_the_setting():
    settings = load_settings(env_file=None, secret_key="x", http_allow="10.0.0.5/32,evolution.internal,fd12::/64")

    allow = AllowList.from_settings(settings)

    assert allow.names == frozenset({"evolution.internal"})
    assert [str(network) for network in allow.networks] == ["10.0.0.5/32", "fd12::/64"]
    assert AllowList.from_settings(load_settings(env_file=None, secret_key="x")) == AllowList()


def test_a_bad_allow_list_entry_stops_start_up_naming_the_variable():
    settings = load_settings(env_file=None, secret_key="x", http_allow="10.0.0.0/8,http://evolution:8080")

    with pytest.raises(SettingsError, match="ATENDAI_HTTP_ALLOW"):
        AllowList.from_settings(settings)


def test_refusals_are_typed_kernel_errors():
    assert issubclass(UnsafeURL, ValidationFailed) and UnsafeURL.status == 422
    assert issubclass(OutgoingRequestFailed, ProviderError) and OutgoingRequestFailed.status == 502
    error = UnsafeURL("The address %(host)s is not allowed: it points to a private or internal network.", host="x")
    assert str(error) == "The address x is not allowed: it points to a private or internal network."


# -- real requests to servers on the loopback ------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    """A tiny HTTP/1.1 server on a loopback address that answers by path and counts connections."""

    host: str = "127.0.0.1"
    ssl_context: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def __aenter__(self) -> LocalServer:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def url(self, path: str, *, host: str | None = None, scheme: str = "http") -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            seen = await self._read(reader)
            self.requests.append(seen)
            await self._answer(seen, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> Seen:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.strip().split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Seen(method, path, headers, body)

    async def _answer(self, seen: Seen, writer: asyncio.StreamWriter) -> None:
        url = urlsplit(seen.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if parts[0] == "redirect":
            await self._send(writer, int(query.get("status", "302")), b"", {"Location": query["to"]})
        elif parts[0] == "chain":
            remaining = int(parts[1])
            if remaining:
                await self._send(writer, 302, b"", {"Location": f"/chain/{remaining - 1}"})
            else:
                await self._send(writer, 200, b"end of the chain")
        elif parts[0] == "big":
            await self._send(writer, 200, b"x" * int(parts[1]))
        elif parts[0] == "chunked":
            await self._send_chunked(writer, int(parts[1]))
        elif parts[0] == "gzip":
            await self._send(writer, 200, gzip.compress(b"\0" * int(parts[1])), {"Content-Encoding": "gzip"})
        elif parts[0] == "set-cookie":
            await self._send(writer, 200, b"", {"Set-Cookie": "session=tenant-a; Path=/"})
        elif parts[0] == "hang":
            await asyncio.sleep(3600)
        else:
            echo = {"method": seen.method, "path": seen.path, "headers": seen.headers, "body": seen.body.decode()}
            await self._send(writer, 200, json.dumps(echo).encode(), {"Content-Type": "application/json"})

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, body: bytes, headers: dict[str, str] | None = None
    ):
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()

    async def _send_chunked(self, writer: asyncio.StreamWriter, size: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        chunk = b"y" * 65536
        for _ in range(size // len(chunk)):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()


async def test_a_request_to_an_allowed_local_server_works():
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY) as http:
        response = await http.post(server.url("/hook"), json={"event": "message.received"})

    assert response.status_code == 200
    assert response.json()["body"] == '{"event":"message.received"}'
    assert server.connections == 1


async def test_without_the_allow_list_the_local_server_is_never_contacted():
    async with LocalServer() as server, safe_client() as http:
        with pytest.raises(UnsafeURL):
            await http.get(server.url("/hook"))
        with pytest.raises(UnsafeURL):
            await http.get(server.url("/hook", host="localhost"))

    assert server.connections == 0


async def test_a_pinned_name_keeps_its_host_header():
    allow = AllowList.parse("evolution.internal")
    async with LocalServer() as server, safe_client(allow=allow, resolver=answering("127.0.0.1")) as http:
        response = await http.get(server.url("/instance", host="evolution.internal"))

    assert response.json()["headers"]["host"] == f"evolution.internal:{server.port}"


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.2:{other}/ok",
        "http://0x7f000002:{other}/ok",
        "http://[::1]:{other}/ok",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:127.0.0.2]:{other}/ok",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_from_an_allowed_server_to_a_refused_address_is_not_followed(location):
    async with LocalServer() as server, LocalServer(host="127.0.0.2") as other:
        target = location.format(other=other.port)
        async with safe_client(allow=LOOPBACK_ONLY) as http:
            with pytest.raises(UnsafeURL):
                await http.get(server.url("/redirect"), params={"to": target})

    assert [seen.path.split("?")[0] for seen in server.requests] == ["/redirect"]
    assert other.connections == 0


async def test_five_redirects_are_followed():
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY) as http:
        response = await http.get(server.url("/chain/5"))

    assert response.text == "end of the chain"
    assert len(response.history) == 5


async def test_a_sixth_redirect_is_refused():
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY) as http:
        with pytest.raises(OutgoingRequestFailed, match="redirected more than 5 times"):
            await http.get(server.url("/chain/6"))

    assert [seen.path for seen in server.requests] == [f"/chain/{n}" for n in range(6, 0, -1)]


async def test_credentials_do_not_follow_a_redirect_to_another_origin():
    credentials = {"Authorization": "Bearer tenant-token", "apikey": "evolution-key"}
    async with LocalServer() as server, LocalServer() as other, safe_client(allow=LOOPBACK_ONLY) as http:
        same = await http.get(server.url("/redirect"), params={"to": "/echo"}, headers=credentials)
        elsewhere = await http.get(server.url("/redirect"), params={"to": other.url("/echo")}, headers=credentials)

    assert {"authorization", "apikey"} <= same.json()["headers"].keys()
    assert not {"authorization", "apikey"} & elsewhere.json()["headers"].keys()


async def test_a_cookie_one_server_sets_is_not_sent_on_a_later_request():
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY) as http:
        await http.get(server.url("/set-cookie"))
        response = await http.get(server.url("/echo"))

    assert "cookie" not in response.json()["headers"]


@pytest.mark.parametrize(("status", "method", "body"), [(302, "GET", ""), (303, "GET", ""), (307, "POST", "payload")])
async def test_a_redirected_post_keeps_its_body_only_when_the_status_says_so(status, method, body):
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY) as http:
        response = await http.post(server.url("/redirect"), params={"to": "/echo", "status": status}, content=body)

    assert (response.json()["method"], response.json()["body"]) == (method, body)


@pytest.mark.parametrize("path", ["/big/2048", "/chunked/262144"])
async def test_a_response_larger_than_max_bytes_is_cut(path):
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY, max_bytes=1024) as http:
        with pytest.raises(OutgoingRequestFailed, match="larger than 1024 bytes"):
            await http.get(server.url(path))


async def test_a_response_within_max_bytes_is_read_whole():
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY, max_bytes=1024) as http:
        response = await http.get(server.url("/big/1024"))

    assert response.content == b"x" * 1024


async def test_a_small_compressed_body_that_decodes_past_max_bytes_is_cut():
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY, max_bytes=64 * 1024) as http:
        assert len((await http.get(server.url("/gzip/1000"))).content) == 1000
        with pytest.raises(OutgoingRequestFailed, match="larger than"):
            await http.get(server.url("/gzip/10000000"))


async def test_a_streamed_response_is_cut_at_max_bytes_too():
    received = 0
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY, max_bytes=100_000) as http:
        with pytest.raises(OutgoingRequestFailed, match="larger than"):
            async with http.stream("GET", server.url("/chunked/1048576")) as response:
                async for chunk in response.aiter_bytes():
                    received += len(chunk)

    assert received <= 100_000


async def test_a_server_that_never_answers_times_out():
    started = time.monotonic()
    async with LocalServer() as server, safe_client(allow=LOOPBACK_ONLY, timeout=0.5) as http:
        with pytest.raises(OutgoingRequestFailed, match="did not answer in time"):
            await http.get(server.url("/hang"))

    assert time.monotonic() - started < 5


class RebindingResolver:
    """Answers ``first`` once, then ``later``: a name whose owner changes it right after our check."""

    def __init__(self, first: str, later: str) -> None:
        self.first, self.later, self.calls = first, later, 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [self.first if self.calls == 1 else self.later]


async def test_dns_rebinding_cannot_move_the_connection_to_a_refused_address(monkeypatch):
    resolver = RebindingResolver(first="127.0.0.1", later="127.0.0.2")
    system_getaddrinfo = socket.getaddrinfo

    def rebound(host: Any, *args: Any, **kwargs: Any) -> Sequence[Any]:
        # Were the connection layer to look the name up itself, the system would now say 127.0.0.2.
        return system_getaddrinfo("127.0.0.2" if host in ("rebind.test", b"rebind.test") else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    async with LocalServer() as allowed, LocalServer(host="127.0.0.2", port=allowed.port) as refused:
        # Same port on both addresses: only the address decides which server answers.
        url = f"http://rebind.test:{allowed.port}/hook"
        async with safe_client(allow=LOOPBACK_ONLY, resolver=resolver) as http:
            response = await http.get(url)
            assert resolver.calls == 1
            with pytest.raises(UnsafeURL):
                await http.get(url)

    assert response.json()["headers"]["host"] == f"rebind.test:{allowed.port}"
    assert resolver.calls == 2
    assert allowed.connections == 1
    assert refused.connections == 0


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Notes where a connection would go and opens none."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_the_connection_goes_to_the_address_resolved_once_not_to_a_later_answer():
    resolver = RebindingResolver(first=PUBLIC, later="127.0.0.1")
    backend = RecordingBackend()
    transport = SafeTransport(resolver=resolver, network_backend=backend)
    async with LocalServer() as loopback, httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://rebind.test:{loopback.port}/")

    assert resolver.calls == 1
    assert backend.attempts == [(PUBLIC, loopback.port)]
    assert loopback.connections == 0


# -- https: the pin keeps SNI and certificate checks on the name ----------------------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(pem)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path, pem


def _tls_server(tmp_path: Path, name: str, server_names: list[str | None]) -> tuple[ssl.SSLContext, bytes]:
    cert_path, key_path, pem = _certificate(tmp_path, name)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda connection, server_name, ctx: server_names.append(server_name)
    return context, pem


async def test_https_to_a_pinned_name_sends_its_sni_and_verifies_its_certificate(tmp_path):
    server_names: list[str | None] = []
    server_context, pem = _tls_server(tmp_path, "secure.test", server_names)
    trust = ssl.create_default_context(cadata=pem.decode())
    allow = AllowList.parse("secure.test")
    async with (
        LocalServer(ssl_context=server_context) as server,
        safe_client(allow=allow, resolver=answering("127.0.0.1"), ssl_context=trust) as http,
    ):
        response = await http.get(server.url("/ok", host="secure.test", scheme="https"))

    assert response.json()["headers"]["host"] == f"secure.test:{server.port}"
    assert server_names == ["secure.test"]


async def test_https_to_a_name_the_certificate_does_not_cover_fails(tmp_path):
    server_context, pem = _tls_server(tmp_path, "secure.test", [])
    trust = ssl.create_default_context(cadata=pem.decode())
    allow = AllowList.parse("impostor.test")
    async with (
        LocalServer(ssl_context=server_context) as server,
        safe_client(allow=allow, resolver=answering("127.0.0.1"), ssl_context=trust) as http,
    ):
        with pytest.raises(OutgoingRequestFailed):
            await http.get(server.url("/ok", host="impostor.test", scheme="https"))
