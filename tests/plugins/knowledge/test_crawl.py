"""Crawling against a real HTTP server on 127.0.0.1: links, robots.txt, sitemaps, conditional fetches, failures."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from plugins.knowledge.crawl import Page, crawl, extract_links, fetch, normalize_url, parse_sitemap
from tests.fakes.website import FakeSite, Route


def html(body: str, headers: dict[str, str] | None = None, status: int = 200) -> Route:
    return (status, "text/html; charset=utf-8", f"<html><body>{body}</body></html>".encode(), headers or {})


def xml(body: str) -> Route:
    return (200, "application/xml", body.encode(), {})


def urlset(*urls: str) -> str:
    entries = "".join(f"<url><loc> {url} </loc><lastmod>2024-05-01</lastmod></url>" for url in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def sitemap_index(*urls: str) -> str:
    entries = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in urls)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


ROBOTS: Route = (200, "text/plain", b"User-agent: *\nDisallow: /private/\n", {})
PDF: Route = (200, "application/pdf", b"%PDF-1.4 manual de trocas", {})
HOME = html(
    """
    <nav><a href="/sobre?utm_source=news">Sobre nós</a></nav>
    <a href="/trocas#prazos">Trocas</a>
    <a href="/trocas">Trocas e devoluções</a>
    <a href="/private/segredo">Área restrita</a>
    <a href="/faltando">Página antiga</a>
    <a href="/banner">Banner da promoção</a>
    <a href="/logo.png">Logo</a>
    <a href="/manual.pdf">Manual em PDF</a>
    <a href="http://externo.example/promo">Parceiro</a>
    <a rel="nofollow" href="/carrinho">Carrinho</a>
    <a href="mailto:sac@loja.example">E-mail</a>
    <a href="tel:+5581999999999">Telefone</a>
    """
)


def shop() -> dict[str, Route]:
    return {
        "/robots.txt": ROBOTS,
        "/": HOME,
        "/sobre": html('<a href="/">Início</a> <a href="/contato">Contato</a> <a href="/trocas">Trocas</a>'),
        "/trocas": html("<p>Devolução em até 7 dias.</p>", {"ETag": '"trocas-v1"'}),
        "/contato": html("<p>Fale com a gente.</p>"),
        "/banner": (200, "image/jpeg", b"\xff\xd8\xff", {}),
        "/manual.pdf": PDF,
        "/private/segredo": html("<p>Segredo</p>"),
        "/carrinho": html("<p>Carrinho</p>"),
    }


async def collect(site: FakeSite, start: str = "/", **options: Any) -> list[Page]:
    async with httpx.AsyncClient() as client:
        return [page async for page in crawl(client, site.url(start), **options)]


def paths(pages: list[Page]) -> list[tuple[str, int]]:
    return [(urlsplit(page.url).path, page.status) for page in pages]


# -- normalize_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("HTTP://Loja.Example", "http://loja.example/"),
        ("https://loja.example:443/trocas#prazos", "https://loja.example/trocas"),
        ("http://loja.example:80/a", "http://loja.example/a"),
        ("http://loja.example:8080/a", "http://loja.example:8080/a"),
        (
            "https://loja.example/p?utm_source=x&id=2&UTM_Medium=y&gclid=1&fbclid=2&cor=azul",
            "https://loja.example/p?id=2&cor=azul",
        ),
        ("https://loja.example/Trocas/?b=2&a=1", "https://loja.example/Trocas/?b=2&a=1"),
        ("https://loja.example/busca?q=promo%C3%A7%C3%A3o", "https://loja.example/busca?q=promo%C3%A7%C3%A3o"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
    ],
)
def test_normalize_url(url: str, normalized: str) -> None:
    assert normalize_url(url) == normalized


@pytest.mark.parametrize("url", ["/trocas", "loja.example/trocas", "http://loja.example:porta/"])
def test_normalize_url_refuses_what_is_not_an_absolute_url(url: str) -> None:
    with pytest.raises(ValueError):
        normalize_url(url)


# -- extract_links ---------------------------------------------------------------------------------


def test_extract_links_keeps_same_host_pages_and_documents_in_order_once() -> None:
    page = """
    <a href="/trocas#prazos">Trocas</a>
    <a href="https://www.loja.example/trocas">Trocas de novo</a>
    <a href="contato">Contato</a>
    <a href="../politica.pdf">Política em PDF</a>
    <a href="//loja.example/sobre?utm_campaign=x">Sobre</a>
    <a href="https://outra.example/">Outra loja</a>
    <a rel="external nofollow" href="/login">Entrar</a>
    <a href="javascript:void(0)">Menu</a> <a href="mailto:a@loja.example">E-mail</a> <a href="tel:+55">Tel</a>
    <a href="#topo">Topo</a> <a href="">Vazio</a> <a>Sem href</a>
    <a href="/foto.JPG">Foto</a> <a href="/estilo.css">CSS</a> <a href="/app.js">JS</a>
    <a href="/fotos.zip">Zip</a> <a href="/video.mp4">Vídeo</a> <a href="/musica.mp3">Áudio</a>
    <a href="ftp://loja.example/arquivo">FTP</a>
    <map><area href="/mapa" alt="Mapa"></map>
    """

    links = extract_links(page, "https://loja.example/ajuda/index.html")

    assert links == [
        "https://loja.example/trocas",
        "https://www.loja.example/trocas",
        "https://loja.example/ajuda/contato",
        "https://loja.example/politica.pdf",
        "https://loja.example/sobre",
        "https://loja.example/mapa",
    ]


def test_extract_links_resolves_against_base_href_and_may_leave_the_host() -> None:
    page = b'<head><base href="https://loja.example/docs/"></head><a href="guia">Guia</a><a href="https://outra.example/x">X</a>'

    assert extract_links(page, "https://loja.example/") == ["https://loja.example/docs/guia"]
    assert extract_links(page, "https://loja.example/", same_host=False) == [
        "https://loja.example/docs/guia",
        "https://outra.example/x",
    ]


# -- parse_sitemap ---------------------------------------------------------------------------------


def test_parse_sitemap_reads_urls_with_or_without_namespace() -> None:
    with_namespace = urlset("https://loja.example/b", "https://loja.example/a", "https://loja.example/b")
    without = "<urlset><url><loc>https://loja.example/c</loc></url><url><loc>mailto:x@y</loc></url></urlset>"

    assert parse_sitemap(with_namespace.encode()) == (["https://loja.example/b", "https://loja.example/a"], [])
    assert parse_sitemap(b"\xef\xbb\xbf" + without.encode()) == (["https://loja.example/c"], [])


def test_parse_sitemap_reads_a_gzipped_sitemap_index() -> None:
    index = sitemap_index("https://loja.example/s1.xml.gz", "https://loja.example/s2.xml")

    assert parse_sitemap(gzip.compress(index.encode())) == (
        [],
        ["https://loja.example/s1.xml.gz", "https://loja.example/s2.xml"],
    )


def test_parse_sitemap_reads_a_plain_text_list_of_urls() -> None:
    assert parse_sitemap(b"https://loja.example/a\n\n  https://loja.example/b  \nlixo\n") == (
        ["https://loja.example/a", "https://loja.example/b"],
        [],
    )


def test_parse_sitemap_refuses_a_gzip_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("plugins.knowledge.crawl.MAX_SITEMAP_BYTES", 1000)

    with pytest.raises(ValueError, match="decompressed"):
        parse_sitemap(gzip.compress(urlset(*[f"https://loja.example/{n}" for n in range(100)]).encode()))


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><urlset>&lol2;</urlset>',
        b"<html><body><h1>P\xc3\xa1gina n\xc3\xa3o encontrada</h1></body></html>",
        b"<urlset><url><loc>https://loja.example/a</loc>",
        b"\x1f\x8b\x08\x00 not really gzip",
    ],
)
def test_parse_sitemap_refuses_entities_html_broken_xml_and_broken_gzip(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_sitemap(data)


# -- fetch -----------------------------------------------------------------------------------------


async def test_fetch_returns_the_body_and_validators_then_304_when_unchanged(serve: Callable[..., FakeSite]) -> None:
    modified = "Wed, 01 May 2024 10:00:00 GMT"
    site = serve({"/trocas": html("<p>Devolução em até 7 dias.</p>", {"ETag": '"v1"', "Last-Modified": modified})})

    async with httpx.AsyncClient() as client:
        first = await fetch(client, site.url("/trocas"))
        by_etag = await fetch(client, site.url("/trocas"), etag=first.etag)
        by_date = await fetch(client, site.url("/trocas"), last_modified=first.last_modified)

    assert (first.status, first.media_type, first.charset, first.etag, first.last_modified, first.error) == (
        200,
        "text/html",
        "utf-8",
        '"v1"',
        modified,
        None,
    )
    assert first.body == b"<html><body><p>Devolu\xc3\xa7\xc3\xa3o em at\xc3\xa9 7 dias.</p></body></html>"
    assert (by_etag.status, by_etag.body, by_etag.ok) == (304, b"", False)
    assert (by_date.status, by_date.body) == (304, b"")


async def test_fetch_follows_redirects_and_reports_the_final_url(serve: Callable[..., FakeSite]) -> None:
    site = serve({"/antiga": (301, "text/html", b"", {"Location": "/trocas"}), "/trocas": html("<p>Trocas</p>")})

    async with httpx.AsyncClient() as client:
        page = await fetch(client, site.url("/antiga"))

    assert (page.url, page.status, page.ok) == (site.url("/trocas"), 200, True)


async def test_fetch_gives_up_after_five_redirects(serve: Callable[..., FakeSite]) -> None:
    site = serve({"/loop": (302, "text/html", b"", {"Location": "/loop"})})

    async with httpx.AsyncClient() as client:
        page = await fetch(client, site.url("/loop"))

    assert (page.status, page.error) == (0, "too_many_redirects")
    assert len(site.requests) == 6


async def test_fetch_stops_reading_past_max_bytes(serve: Callable[..., FakeSite]) -> None:
    site = serve({"/grande": html("<p>" + "promoção " * 500 + "</p>")})

    async with httpx.AsyncClient() as client:
        page = await fetch(client, site.url("/grande"), max_bytes=1000)

    assert (page.status, page.body, page.error) == (200, b"", "too_large")


async def test_fetch_keeps_no_body_of_other_file_types(serve: Callable[..., FakeSite]) -> None:
    site = serve({"/foto": (200, "image/png", b"\x89PNG", {})})

    async with httpx.AsyncClient() as client:
        page = await fetch(client, site.url("/foto"))

    assert (page.status, page.media_type, page.body, page.error) == (200, "image/png", b"", "unsupported_type")


async def test_fetch_reports_a_slow_server_as_a_timeout(serve: Callable[..., FakeSite]) -> None:
    site = serve({"/lenta": html("<p>Lenta</p>", {"X-Test-Delay": "2"})})

    async with httpx.AsyncClient() as client:
        page = await fetch(client, site.url("/lenta"), timeout=0.2)

    assert (page.url, page.status, page.error) == (site.url("/lenta"), 0, "timeout")


async def test_fetch_reports_a_closed_port_as_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async with httpx.AsyncClient() as client:
        page = await fetch(client, f"http://127.0.0.1:{port}/")

    assert (page.status, page.error, page.body) == (0, "unreachable", b"")


async def test_fetch_reports_the_callers_client_errors_by_their_slug() -> None:
    class Refused(Exception):
        slug = "unsafe-url"

    class RefusingClient:
        def stream(self, method: str, url: str, *, headers: dict[str, str]) -> Any:
            raise Refused(url)

    page = await fetch(RefusingClient(), "http://10.0.0.1/admin")

    assert (page.url, page.status, page.error) == ("http://10.0.0.1/admin", 0, "unsafe_url")


# -- crawl -----------------------------------------------------------------------------------------


async def test_crawl_follows_same_site_links_breadth_first(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())

    pages = await collect(site)

    assert paths(pages) == [
        ("/", 200),
        ("/sobre", 200),
        ("/trocas", 200),
        ("/faltando", 404),
        ("/manual.pdf", 200),
        ("/contato", 200),
    ]
    assert pages[4].body == PDF[2]
    assert pages[2].etag == '"trocas-v1"'
    assert pages[3].error is None and pages[3].body == b""


async def test_crawl_skips_disallowed_nofollow_external_and_non_page_urls(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())

    await collect(site)

    assert site.requests.count("/robots.txt") == 1
    assert "/banner" in site.requests  # fetched, then skipped as an image
    for never in ("/private/segredo", "/carrinho", "/logo.png", "/promo"):
        assert never not in site.requests


async def test_crawl_stops_at_the_limit(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())

    pages = await collect(site, limit=3)

    assert paths(pages) == [("/", 200), ("/sobre", 200), ("/trocas", 200)]
    assert "/faltando" not in site.requests


async def test_crawl_takes_the_sitemap_pages_in_order_without_following_links(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())
    listed = ["/trocas", "/contato", "/private/segredo", "/banner", "/manual.pdf", "/sobre"]
    site.routes["/sitemap.xml"] = xml(
        urlset(*map(site.url, listed[:3]), "http://externo.example/promo", *map(site.url, listed[3:]))
    )

    pages = await collect(site, limit=3)

    assert paths(pages) == [("/trocas", 200), ("/contato", 200), ("/manual.pdf", 200)]
    assert "/" not in site.requests and "/sobre" not in site.requests


async def test_crawl_reads_a_gzipped_sitemap_index(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())
    pages_map = gzip.compress(urlset(site.url("/contato"), site.url("/trocas")).encode())
    site.routes["/sitemap.xml"] = (
        200,
        "application/x-gzip",
        gzip.compress(sitemap_index(site.url("/mapas/paginas.xml.gz")).encode()),
        {},
    )
    site.routes["/mapas/paginas.xml.gz"] = (200, "application/octet-stream", pages_map, {})

    pages = await collect(site)

    assert paths(pages) == [("/contato", 200), ("/trocas", 200)]


async def test_crawl_reads_a_sitemap_given_as_the_start_url(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())
    site.routes["/mapa-do-site.xml"] = xml(urlset(site.url("/sobre"), site.url("/faltando")))

    pages = await collect(site, start="/mapa-do-site.xml")

    assert paths(pages) == [("/sobre", 200), ("/faltando", 404)]
    assert "/sitemap.xml" not in site.requests


async def test_crawl_finds_the_sitemap_robots_txt_names(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())
    site.routes["/robots.txt"] = (200, "text/plain", f"Sitemap: {site.url('/mapa.xml')}\n".encode(), {})
    site.routes["/mapa.xml"] = xml(urlset(site.url("/contato")))

    pages = await collect(site)

    assert paths(pages) == [("/contato", 200)]


async def test_crawl_falls_back_to_links_when_the_sitemap_is_an_html_page(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())
    site.routes["/sitemap.xml"] = html("<h1>Página não encontrada</h1>")

    pages = await collect(site, limit=2)

    assert paths(pages) == [("/", 200), ("/sobre", 200)]


async def test_crawl_without_sitemap_never_asks_for_one(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())

    pages = await collect(site, limit=1, use_sitemap=False)

    assert paths(pages) == [("/", 200)]
    assert "/sitemap.xml" not in site.requests


async def test_crawl_allows_everything_when_robots_txt_cannot_be_read(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())
    site.routes["/robots.txt"] = (500, "text/plain", b"erro", {})
    site.routes["/"] = html('<a href="/private/segredo">Restrita</a>')

    pages = await collect(site)

    assert paths(pages) == [("/", 200), ("/private/segredo", 200)]


async def test_crawl_reports_a_start_url_that_robots_txt_disallows(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())

    pages = await collect(site, start="/private/segredo", use_sitemap=False)

    assert [(page.url, page.status, page.error) for page in pages] == [
        (site.url("/private/segredo"), 0, "robots_disallowed")
    ]
    assert "/private/segredo" not in site.requests


async def test_crawl_reports_a_start_url_of_another_type(serve: Callable[..., FakeSite]) -> None:
    site = serve(shop())

    pages = await collect(site, start="/banner", use_sitemap=False)

    assert [(page.status, page.error) for page in pages] == [(200, "unsupported_type")]


async def test_crawl_reports_an_invalid_start_url_and_refuses_a_limit_below_one() -> None:
    async with httpx.AsyncClient() as client:
        pages = [page async for page in crawl(client, "loja sem esquema")]
        with pytest.raises(ValueError):
            [page async for page in crawl(client, "http://loja.example/", limit=0)]

    assert [(page.url, page.status, page.error) for page in pages] == [("loja sem esquema", 0, "invalid_url")]
