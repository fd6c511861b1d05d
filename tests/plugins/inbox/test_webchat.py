"""The web chat's public side on a real database: visitor sessions and their signed tokens, a visitor's
own thread and nobody else's, idempotent posts, attachments, ratings, and the visitor's live socket."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
import pytest_asyncio
from PIL import Image
from sqlalchemy import func, select, text, update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kernel.sdk import storage, tenant_session
from kernel.testing.server import serving
from plugins.inbox.demo import ensure_webchat
from plugins.inbox.models import Channel, Contact, Conversation, Message
from plugins.inbox.services import InboxService
from plugins.inbox.webchat import MAX_UPLOAD_BYTES, SESSIONS_PER_HOUR, issue_visitor_token, read_visitor_token
from tests.plugins.inbox.conftest import API, set_inbox_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHAT = f"{API}/webchat"


# --- helpers ---------------------------------------------------------------------------------------------


async def chat_of(tenant_id: UUID) -> Channel:
    """The organization's web chat channel (every organization has one)."""
    async with tenant_session(tenant_id) as session:
        channel = await ensure_webchat(session)
        await session.commit()
        return channel


async def start(client: httpx.AsyncClient, key: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{CHAT}/{key}/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


async def say(client: httpx.AsyncClient, key: str, session: dict[str, Any], body: str, client_id: str | None = None):
    return await client.post(
        f"{CHAT}/{key}/messages",
        json={"client_id": client_id or str(uuid.uuid4()), "body": body},
        headers=bearer(session),
    )


async def thread(client: httpx.AsyncClient, key: str, session: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"{CHAT}/{key}/messages", headers=bearer(session))
    assert response.status_code == 200, response.text
    return response.json()


async def count(tenant_id: UUID, model: Any, *where: Any) -> int:
    async with tenant_session(tenant_id) as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def deliver(tenant_id: UUID, message_id: str) -> str:
    """Hand a queued reply to the web chat now (the in-process worker may have done it already)."""
    async with tenant_session(tenant_id) as session:
        status = await InboxService(session).deliver(UUID(message_id), final_attempt=False)
        await session.commit()
        return status


def png(width: int = 40, height: int = 30) -> bytes:
    """A small photo with EXIF (a camera make and a GPS block), as phones send them."""
    picture = Image.new("RGB", (width, height), (200, 30, 90))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "S", 2: (23.0, 33.0, 0.0)}
    out = io.BytesIO()
    picture.save(out, format="PNG", exif=exif)
    return out.getvalue()


# --- sessions and tokens -----------------------------------------------------------------------------


async def test_a_visitor_gets_a_random_id_and_a_signed_token_and_can_resume(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    first = await start(atendai_client, key)
    second = await start(atendai_client, key)
    assert first["visitor_id"] != second["visitor_id"]
    assert all(ch in "0123456789abcdef" for ch in first["visitor_id"]) and len(first["visitor_id"]) == 32
    assert first["resumed"] is False
    resumed = await atendai_client.post(f"{CHAT}/{key}/sessions", json={}, headers=bearer(first))
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["visitor_id"] == first["visitor_id"] and resumed.json()["resumed"] is True


async def test_a_tampered_expired_or_foreign_token_is_refused(tenant, make_tenant, atendai_client, atendai_kernel):
    key = (await chat_of(tenant.tenant_id)).public_key
    mine, theirs = await start(atendai_client, key), await start(atendai_client, key)
    assert (await say(atendai_client, key, mine, "Oi")).status_code == 201
    version, body, signature = mine["token"].split(".")
    claims = json.loads(base64url_decode(body))
    claims["v"] = theirs["visitor_id"]
    forged_body = base64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    secret = atendai_kernel.settings.secret_key
    channel = await chat_of(tenant.tenant_id)
    other = await make_tenant(seed=False)
    other_channel = await chat_of(other.tenant_id)
    expired, _ = issue_visitor_token(
        secret, tenant.tenant_id, channel.id, mine["visitor_id"], now=datetime.now(UTC) - timedelta(days=31)
    )
    foreign, _ = issue_visitor_token(secret, other.tenant_id, other_channel.id, mine["visitor_id"])
    wrong_key, _ = issue_visitor_token("another secret", tenant.tenant_id, channel.id, mine["visitor_id"])
    for token in (
        f"{version}.{forged_body}.{signature}",  # someone else's visitor id under my signature
        f"{version}.{body}.{signature[:-2]}AA",
        expired,
        foreign,  # a real token of another organization's chat
        wrong_key,
        tenant.token,  # an access token is not a visitor token
        "",
    ):
        response = await atendai_client.get(f"{CHAT}/{key}/messages", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (token, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("/invalid-visitor-token")
    assert read_visitor_token(secret, mine["token"]).visitor_id == mine["visitor_id"]
    assert (await atendai_client.get(f"{CHAT}/{key}/messages")).status_code == 401


def base64url_encode(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def base64url_decode(text_: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


async def test_session_creation_is_limited_per_address_but_resuming_is_not(tenant, atendai_app, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key

    @asynccontextmanager
    async def from_address(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=atendai_app, client=(address, 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client

    async with from_address("203.0.113.7") as client:
        sessions = [await start(client, key) for _ in range(SESSIONS_PER_HOUR)]
        refused = await client.post(f"{CHAT}/{key}/sessions", json={})
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["type"].endswith("/too-many-requests")
        resumed = await client.post(f"{CHAT}/{key}/sessions", json={}, headers=bearer(sessions[0]))
        assert resumed.status_code == 200, "a visitor coming back is not a new session"
    async with from_address("203.0.113.8") as client:
        await start(client, key)


async def test_a_name_and_an_unverified_email_never_join_someone_elses_contact(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    registered = await atendai_client.post(
        f"{API}/contacts", json={"name": "Rita", "emails": ["rita@example.com"]}, headers=tenant.headers
    )
    assert registered.status_code == 201, registered.text
    stranger = await start(atendai_client, key, name="  Rita   Lopes ", email="Rita@Example.com")
    assert (await say(atendai_client, key, stranger, "Oi, sou eu")).status_code == 201
    async with tenant_session(tenant.tenant_id) as session:
        contacts = {c.id: c for c in (await session.execute(select(Contact))).scalars()}
    assert len(contacts) == 2, "the visitor got a contact of their own"
    visitor = next(c for c in contacts.values() if str(c.id) != registered.json()["id"])
    assert visitor.name == "Rita Lopes" and visitor.emails == []
    assert visitor.attributes["webchat_email"] == "rita@example.com"
    bad = await atendai_client.post(f"{CHAT}/{key}/sessions", json={"email": "not an address"})
    assert bad.status_code == 422


# --- the thread ----------------------------------------------------------------------------------------


async def test_a_visitor_sees_only_their_own_messages(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    ana, bruno = await start(atendai_client, key), await start(atendai_client, key)
    mine = (await say(atendai_client, key, ana, "Meu pedido 4521 não chegou")).json()
    theirs = (await say(atendai_client, key, bruno, "Vocês abrem sábado?")).json()
    assert mine["conversation_id"] != theirs["conversation_id"]
    assert [m["body"] for m in (await thread(atendai_client, key, ana))["items"]] == ["Meu pedido 4521 não chegou"]
    seen_by_bruno = await thread(atendai_client, key, bruno)
    assert [m["id"] for m in seen_by_bruno["items"]] == [theirs["id"]]
    assert seen_by_bruno["conversation_id"] == theirs["conversation_id"]
    later = await atendai_client.get(
        f"{CHAT}/{key}/messages", params={"after": mine["created_at"]}, headers=bearer(ana)
    )
    assert later.json()["items"] == []


async def test_a_retried_post_with_the_same_client_id_stores_one_message(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    ana, bruno = await start(atendai_client, key), await start(atendai_client, key)
    client_id = str(uuid.uuid4())
    first = await say(atendai_client, key, ana, "Oi!", client_id)
    again = await say(atendai_client, key, ana, "Oi!", client_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert await count(tenant.tenant_id, Message) == 1
    # Another visitor using the same id gets a message of their own, never a look at the first one's.
    copycat = await say(atendai_client, key, bruno, "Quem é?", client_id)
    assert copycat.status_code == 201 and copycat.json()["id"] != first.json()["id"]
    assert copycat.json()["body"] == "Quem é?"
    malformed = await say(atendai_client, key, ana, "Oi", "x")
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "client_id"


async def test_private_notes_never_reach_the_visitor(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    ana = await start(atendai_client, key)
    conversation_id = (await say(atendai_client, key, ana, "Quero trocar o tamanho")).json()["conversation_id"]
    note = await atendai_client.post(
        f"{API}/conversations/{conversation_id}/messages",
        json={"body": "cliente chato, cuidado", "private": True},
        headers=tenant.headers,
    )
    reply = await atendai_client.post(
        f"{API}/conversations/{conversation_id}/messages", json={"body": "Claro! Qual tamanho?"}, headers=tenant.headers
    )
    assert note.status_code == 201 and reply.status_code == 201, (note.text, reply.text)
    await deliver(tenant.tenant_id, reply.json()["id"])
    items = (await thread(atendai_client, key, ana))["items"]
    assert [(m["sender"], m["body"]) for m in items] == [
        ("contact", "Quero trocar o tamanho"),
        ("person", "Claro! Qual tamanho?"),
    ]
    assert "cliente chato" not in json.dumps(items)


async def test_an_ai_reply_reaches_the_visitor_only_once_delivered(tenant, atendai_client):
    channel = await chat_of(tenant.tenant_id)
    ana = await start(atendai_client, channel.public_key)
    conversation_id = (await say(atendai_client, channel.public_key, ana, "Oi")).json()["conversation_id"]
    async with tenant_session(tenant.tenant_id) as session:
        # Written straight to the table, so no delivery job races the reads below.
        reply = Message(
            conversation_id=UUID(conversation_id),
            channel_id=channel.id,
            direction="out",
            sender_kind="agent",
            sender_agent_id=uuid.uuid4(),
            kind="text",
            body="Olá! Sou a assistente virtual.",
            payload={},
            private=False,
            status="queued",
            attempts=0,
        )
        session.add(reply)
        await session.commit()
    # Queued, not sent: a person taking over now would drop it, so the visitor must not see it yet.
    assert [m["body"] for m in (await thread(atendai_client, channel.public_key, ana))["items"]] == ["Oi"]
    async with tenant_session(tenant.tenant_id) as session:
        await session.execute(update(Message).where(Message.id == reply.id).values(status="delivered"))
        await session.commit()
    items = (await thread(atendai_client, channel.public_key, ana))["items"]
    assert [(m["sender"], m["body"]) for m in items] == [("contact", "Oi"), ("agent", "Olá! Sou a assistente virtual.")]


# --- attachments ---------------------------------------------------------------------------------------


async def upload(client, key, session, data: bytes, filename: str, content_type: str, client_id: str | None = None):
    return await client.post(
        f"{CHAT}/{key}/attachments",
        files={"file": (filename, data, content_type)},
        data={"client_id": client_id or str(uuid.uuid4())},
        headers=bearer(session),
    )


async def test_attachments_are_stored_cleaned_and_only_their_visitor_reads_them(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    ana, bruno = await start(atendai_client, key), await start(atendai_client, key)
    photo = await upload(atendai_client, key, ana, png(), "../../férias.png", "image/png")
    assert photo.status_code == 201, photo.text
    shown = photo.json()
    assert shown["kind"] == "image" and shown["file"]["content_type"] == "image/png"
    assert shown["file"]["filename"] == "férias.png"
    async with tenant_session(tenant.tenant_id) as session:
        media = (await session.get(Message, UUID(shown["id"]))).media
    assert media["key"].startswith(f"private/{tenant.tenant_id}/inbox/webchat/")
    stored = await storage().get(media["key"])
    assert dict(Image.open(io.BytesIO(stored)).getexif()) == {}, "EXIF and GPS are gone"
    fetched = await atendai_client.get(shown["file"]["url"], headers=bearer(ana))
    assert fetched.status_code == 200 and fetched.content == stored
    assert fetched.headers["content-type"] == "image/png"
    assert (await atendai_client.get(shown["file"]["url"], headers=bearer(bruno))).status_code == 404

    pdf = await upload(atendai_client, key, ana, b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "boleto.pdf", "text/plain")
    assert pdf.status_code == 201, pdf.text
    assert (pdf.json()["kind"], pdf.json()["file"]["content_type"]) == ("document", "application/pdf")
    voice = await upload(atendai_client, key, ana, b"OggS\x00\x02" + bytes(200), "voz.ogg", "audio/ogg")
    assert voice.status_code == 201 and voice.json()["kind"] == "audio"


async def test_attachments_of_the_wrong_type_or_size_are_refused_with_a_clear_problem(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    ana = await start(atendai_client, key)
    disguised = await upload(atendai_client, key, ana, b"<html><script>alert(1)</script>", "foto.png", "image/png")
    assert disguised.status_code == 415, disguised.text
    assert disguised.json()["type"].endswith("/unsupported-file") and "PDF" in disguised.json()["detail"]
    svg = await upload(atendai_client, key, ana, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "a.svg", "image/svg+xml")
    assert svg.status_code == 415
    huge = await upload(atendai_client, key, ana, b"%PDF-1.4\n" + bytes(MAX_UPLOAD_BYTES), "big.pdf", "application/pdf")
    assert huge.status_code == 413, huge.text
    assert huge.json()["type"].endswith("/file-too-large") and "10 MB" in huge.json()["detail"]
    broken = await upload(atendai_client, key, ana, b"\x89PNG\r\n\x1a\n" + bytes(64), "x.png", "image/png")
    assert broken.status_code == 422 and broken.json()["errors"][0]["message"] == "unreadable"
    missing = await atendai_client.post(
        f"{CHAT}/{key}/attachments", data={"client_id": str(uuid.uuid4())}, headers=bearer(ana)
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "file"
    assert await count(tenant.tenant_id, Message) == 0


# --- rating ----------------------------------------------------------------------------------------------


async def test_the_visitor_rates_the_resolved_conversation_once(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    ana = await start(atendai_client, key)
    conversation_id = (await say(atendai_client, key, ana, "Resolvido, obrigada")).json()["conversation_id"]
    early = await atendai_client.post(f"{CHAT}/{key}/csat", json={"score": 5}, headers=bearer(ana))
    assert early.status_code == 409 and early.json()["type"].endswith("/nothing-to-rate")
    resolved = await atendai_client.post(f"{API}/conversations/{conversation_id}/resolve", headers=tenant.headers)
    assert resolved.status_code == 200, resolved.text
    asked = await thread(atendai_client, key, ana)
    assert asked["awaiting_rating"] is True
    assert asked["items"][-1]["sender"] == "system" and asked["items"][-1]["payload"]["auto"] == "csat"
    out_of_range = await atendai_client.post(f"{CHAT}/{key}/csat", json={"score": 6}, headers=bearer(ana))
    assert out_of_range.status_code == 400
    rated = await atendai_client.post(
        f"{CHAT}/{key}/csat", json={"score": 4, "comment": "Rápido!"}, headers=bearer(ana)
    )
    assert rated.status_code == 200, rated.text
    async with tenant_session(tenant.tenant_id) as session:
        conversation = await session.get(Conversation, UUID(conversation_id))
        assert (conversation.csat_score, conversation.csat_comment) == (4, "Rápido!")
    assert (await thread(atendai_client, key, ana))["awaiting_rating"] is False
    twice = await atendai_client.post(f"{CHAT}/{key}/csat", json={"score": 1}, headers=bearer(ana))
    assert twice.status_code == 409


# --- the chat itself -----------------------------------------------------------------------------------


async def test_an_unknown_or_inactive_chat_answers_404(tenant, atendai_client):
    channel = await chat_of(tenant.tenant_id)
    for key in ("no-such-chat-key-at-all", "x", str(uuid.uuid4())):
        response = await atendai_client.get(f"{CHAT}/{key}/config")
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/not-found")
    ana = await start(atendai_client, channel.public_key)
    async with tenant_session(tenant.tenant_id) as session:
        await session.execute(update(Channel).where(Channel.id == channel.id).values(active=False))
        await session.commit()
    for method, path in (("GET", "config"), ("POST", "sessions"), ("GET", "messages")):
        response = await atendai_client.request(
            method, f"{CHAT}/{channel.public_key}/{path}", json={} if method == "POST" else None, headers=bearer(ana)
        )
        assert response.status_code == 404, (path, response.text)
    async with tenant_session(tenant.tenant_id) as session:
        await session.execute(update(Channel).where(Channel.id == channel.id).values(active=True))
        await session.execute(text("UPDATE tenant_plugins SET enabled = false WHERE plugin = 'inbox'"))
        await session.commit()
    assert (await atendai_client.get(f"{CHAT}/{channel.public_key}/config")).status_code == 404, (
        "an organization without the inbox has no chat"
    )


async def test_the_config_has_the_brand_and_says_when_nobody_answers(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    branded = await atendai_client.patch(
        "/api/v1/organization", json={"brand_primary": "#112233"}, headers=tenant.headers
    )
    assert branded.status_code == 200, branded.text
    response = await atendai_client.get(f"{CHAT}/{key}/config", headers={"Origin": "https://shop.example"})
    assert response.status_code == 200, response.text
    config = response.json()
    assert config["organization"] == branded.json()["name"]
    assert config["primary_color"] == "#112233" and config["accent_color"].startswith("#")
    assert config["language"] == "pt-BR" and config["open"] is True and config["opens_at"] is None
    assert config["max_upload_bytes"] == MAX_UPLOAD_BYTES and "application/pdf" in config["accept"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert "max-age" in response.headers["cache-control"]
    await set_inbox_settings(tenant.tenant_id, business_hours={"timezone": "America/Sao_Paulo", "week": {}})
    closed = (await atendai_client.get(f"{CHAT}/{key}/config")).json()
    assert closed["open"] is False and closed["opens_at"] is None


async def test_other_sites_may_call_the_chat(tenant, atendai_client):
    key = (await chat_of(tenant.tenant_id)).public_key
    preflight = await atendai_client.options(
        f"{CHAT}/{key}/messages",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    refused = await atendai_client.get(f"{CHAT}/{key}/messages", headers={"Origin": "https://shop.example"})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*", (
        "errors carry CORS headers too, so the widget can read them"
    )


async def test_the_widget_script_is_served_as_a_static_file(atendai_client):
    response = await atendai_client.get("/static/plugins/inbox/widget.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "data-key" in response.text and "attachShadow" in response.text


# --- the socket -----------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def base_ws(atendai_app: Any, atendai_client: Any) -> AsyncIterator[str]:
    """The session's app served for real (its lifespan already run by ``atendai_client``)."""
    async with serving(atendai_app) as base:
        yield base.replace("http://", "ws://")


async def frame(client: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(client.recv(), within))


async def test_the_visitors_socket_hears_of_an_operators_reply_and_no_one_elses(tenant, atendai_client, base_ws):
    key = (await chat_of(tenant.tenant_id)).public_key
    ana, bruno = await start(atendai_client, key), await start(atendai_client, key)
    conversation_id = (await say(atendai_client, key, ana, "Alguém aí?")).json()["conversation_id"]
    url = f"{base_ws}{CHAT}/{key}/socket"
    async with (
        connect(f"{url}?token={ana['token']}", open_timeout=5) as ana_socket,
        connect(url, open_timeout=5) as bruno_socket,
    ):
        assert await frame(ana_socket) == {"op": "ready", "visitor_id": ana["visitor_id"]}
        await bruno_socket.send(json.dumps({"op": "auth", "token": bruno["token"]}))
        assert (await frame(bruno_socket))["visitor_id"] == bruno["visitor_id"], "the token may come as a frame"
        await ana_socket.send(json.dumps({"op": "ping"}))
        assert await frame(ana_socket) == {"op": "pong"}
        await ana_socket.send(json.dumps({"op": "typing"}))
        reply = await atendai_client.post(
            f"{API}/conversations/{conversation_id}/messages", json={"body": "Oi! Sou a Ana."}, headers=tenant.headers
        )
        assert reply.status_code == 201, reply.text
        await deliver(tenant.tenant_id, reply.json()["id"])
        pushed = await frame(ana_socket)
        assert pushed["op"] == "message"
        assert pushed["data"]["type"] == "message" and pushed["data"]["message_id"] == reply.json()["id"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bruno_socket.recv(), 0.3)
    items = (await thread(atendai_client, key, ana))["items"]
    assert items[-1]["id"] == reply.json()["id"] and items[-1]["sender_name"]


async def test_the_socket_closes_without_a_valid_token_or_chat(tenant, atendai_client, base_ws):
    key = (await chat_of(tenant.tenant_id)).public_key
    for url, code in (
        (f"{base_ws}{CHAT}/{key}/socket?token=nonsense", 4401),
        (f"{base_ws}{CHAT}/{key}/socket?token={tenant.token}", 4401),
        (f"{base_ws}{CHAT}/no-such-chat-key/socket?token=x", 4404),
    ):
        async with connect(url, open_timeout=5) as client:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(client.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code, url
