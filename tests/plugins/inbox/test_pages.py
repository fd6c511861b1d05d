"""The inbox pages over HTTP, as the browser uses them: the board, the list, a conversation with its
composer and actions, the transfer form with the summary preview, canned responses and teams."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from sqlalchemy import select

from kernel.sdk import tenant_session
from plugins.inbox.models import CannedResponse, Conversation, Message, Stage, Team
from tests.plugins.inbox.conftest import receive, set_inbox_settings, webchat_of

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "/app/inbox"
PT = {"Accept-Language": "pt-BR"}
HTMX = {"HX-Request": "true", **PT}


def text_of(html: str) -> str:
    main = html[html.find("<main") :] if "<main" in html else html
    main = re.sub(r"<svg.*?</svg>", " ", main, flags=re.S)
    main = re.sub(r"<script.*?</script>", " ", main, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


@pytest_asyncio.fixture(loop_scope="session")
async def seeded(make_tenant):
    tenant = await make_tenant(seed=True)
    await set_inbox_settings(tenant.tenant_id, business_hours={"always_open": True})
    return tenant


async def conversations_of(tenant_id):
    async with tenant_session(tenant_id) as session:
        return list((await session.execute(select(Conversation).order_by(Conversation.number))).scalars())


async def test_every_inbox_page_renders_in_portuguese(page_client, seeded):
    conversation = (await conversations_of(seeded.tenant_id))[0]
    async with page_client(seeded) as client:
        for path in ("/board", "/conversations", f"/conversations/{conversation.id}", "/canned-responses", "/teams"):
            response = await client.get(BASE + path, headers=PT)
            assert response.status_code == 200, (path, response.text[:500])
            assert response.headers["content-type"].startswith("text/html")
        board = text_of((await client.get(f"{BASE}/board", headers=PT)).text)
        for stage in ("Novo", "Em atendimento", "Aguardando cliente", "Resolvido"):
            assert stage in board
        assert "Maria Souza" in board and "Dá erro no app" in board, "cards show the last message"
        home = await client.get(f"{BASE}/", headers=PT, follow_redirects=False)
        assert home.status_code in (301, 302, 303, 307) and home.headers["location"].endswith("/board")


async def test_the_board_moves_a_card_and_the_resolved_column_resolves(page_client, seeded):
    conversation = (await conversations_of(seeded.tenant_id))[0]
    async with tenant_session(seeded.tenant_id) as session:
        resolved = (await session.execute(select(Stage).where(Stage.kind == "resolved"))).scalar_one()
    async with page_client(seeded) as client:
        moved = await client.post(f"{BASE}/board/move", json={"card": str(conversation.id), "to": str(resolved.id)})
        assert moved.status_code == 200, moved.text
    current = next(c for c in await conversations_of(seeded.tenant_id) if c.id == conversation.id)
    assert current.stage_id == resolved.id and current.resolved_at is not None


async def test_replying_from_the_page_takes_the_conversation_and_shows_it(page_client, seeded):
    conversation = next(c for c in await conversations_of(seeded.tenant_id) if c.resolved_at is None)
    url = f"{BASE}/conversations/{conversation.id}"
    async with page_client(seeded) as client:
        empty = await client.post(f"{url}/messages", data={"body": "  "}, headers=HTMX)
        assert empty.status_code == 422 and "Escreva a mensagem" in empty.text
        sent = await client.post(f"{url}/messages", data={"body": "Oi! Já vou verificar."}, headers=HTMX)
        assert sent.status_code == 200, sent.text
        assert "Oi! Já vou verificar." in sent.text and 'hx-swap-oob="outerHTML:#inbox-thread"' in sent.text
        note = await client.post(f"{url}/messages", data={"body": "cliente VIP", "private": "on"}, headers=HTMX)
        assert note.status_code == 200 and "Nota para a equipe" in note.text
        thread = await client.get(url, headers={**HTMX, "HX-Target": "inbox-thread"})
        assert 'id="inbox-thread"' in thread.text and "<html" not in thread.text
    async with tenant_session(seeded.tenant_id) as session:
        current = await session.get(Conversation, conversation.id)
        assert current.owner_kind == "person" and current.owner_user_id == seeded.admin_user_id
        private = (
            (await session.execute(select(Message).where(Message.conversation_id == conversation.id, Message.private)))
            .scalars()
            .all()
        )
        assert [m.body for m in private if m.sender_kind == "person"] == ["cliente VIP"]


async def test_the_transfer_form_shows_the_summary_and_transfers_with_it(page_client, seeded):
    channel_id = await webchat_of(seeded.tenant_id)
    message, _ = await receive(
        seeded.tenant_id, channel_id, "visitor-page-transfer", "Meu pedido 7781 veio errado, quero trocar"
    )
    url = f"{BASE}/conversations/{message.conversation_id}"
    async with tenant_session(seeded.tenant_id) as session:
        team = (await session.execute(select(Team))).scalars().first()
    async with page_client(seeded) as client:
        form = await client.get(f"{url}/transfer", headers=HTMX)
        assert form.status_code == 200 and "7781" in form.text
        missing = await client.post(f"{url}/transfer", data={"target": "", "summary": "x"}, headers=HTMX)
        assert missing.status_code == 422 and "Escolha quem assume a conversa" in missing.text
        done = await client.post(
            f"{url}/transfer",
            data={"target": f"team:{team.id}", "reason": "Troca", "summary": "Pedido 7781 errado; quer trocar."},
            headers=HTMX,
        )
        assert done.status_code == 200 and done.headers.get("hx-redirect") == url
        page = text_of((await client.get(url, headers=PT)).text)
        assert "Pedido 7781 errado; quer trocar." in page


async def test_actions_pause_resolve_and_reopen_from_the_side_panel(page_client, seeded):
    channel_id = await webchat_of(seeded.tenant_id)
    message, _ = await receive(seeded.tenant_id, channel_id, "visitor-page-actions", "Olá")
    url = f"{BASE}/conversations/{message.conversation_id}/action"
    async with page_client(seeded) as client:
        for action, check in (
            ("pause_ai", lambda c: c.ai_paused),
            ("resolve", lambda c: c.resolved_at is not None),
            ("reopen", lambda c: c.resolved_at is None),
            ("resume_ai", lambda c: not c.ai_paused),
        ):
            response = await client.post(url, data={"action": action}, headers=HTMX)
            assert response.status_code == 200, (action, response.text[:300])
            assert 'id="inbox-conversation-side"' in response.text
            async with tenant_session(seeded.tenant_id) as session:
                assert check(await session.get(Conversation, message.conversation_id)), action
        snoozed = await client.post(url, data={"action": "snooze", "hours": "4"}, headers=HTMX)
        assert snoozed.status_code == 200
        async with tenant_session(seeded.tenant_id) as session:
            assert (await session.get(Conversation, message.conversation_id)).snoozed_until is not None
        await client.post(url, data={"action": "snooze", "hours": "0"}, headers=HTMX)
        async with tenant_session(seeded.tenant_id) as session:
            assert (await session.get(Conversation, message.conversation_id)).snoozed_until is None
        unknown = await client.post(url, data={"action": "explode"}, headers=HTMX)
        assert "Ação desconhecida" in unknown.headers.get("hx-trigger", "").encode().decode("unicode_escape")


async def test_canned_responses_and_teams_are_managed_from_their_pages(page_client, seeded):
    async with page_client(seeded) as client:
        bad = await client.post(f"{BASE}/canned-responses", data={"shortcut": "dois termos", "body": "x"}, headers=HTMX)
        assert bad.status_code == 422 and "atalho" in bad.text.lower()
        made = await client.post(
            f"{BASE}/canned-responses",
            data={"shortcut": "/troca", "title": "Troca", "body": "Para trocar, ..."},
            headers=HTMX,
        )
        assert made.status_code == 200 and "/troca" in made.text
        team = await client.post(
            f"{BASE}/teams",
            data={"action": "create", "name": "Financeiro", "assignment": "least_load", "capacity": "5"},
            headers=HTMX,
        )
        assert team.status_code == 200 and "Financeiro" in team.text
        clash = await client.post(f"{BASE}/teams", data={"action": "create", "name": "Financeiro"}, headers=HTMX)
        assert clash.status_code == 422
    async with tenant_session(seeded.tenant_id) as session:
        assert (await session.execute(select(CannedResponse).where(CannedResponse.shortcut == "troca"))).scalar_one()
        created = (await session.execute(select(Team).where(Team.name == "Financeiro"))).scalar_one()
        assert created.assignment == "least_load" and created.capacity == 5


async def test_an_organizations_pages_never_show_another_ones_conversation(page_client, seeded, make_tenant):
    other = await make_tenant(seed=True)
    theirs = (await conversations_of(other.tenant_id))[0]
    async with page_client(seeded) as client:
        response = await client.get(f"{BASE}/conversations/{theirs.id}", headers=PT)
        assert response.status_code == 404
        moved = await client.post(f"{BASE}/board/move", json={"card": str(theirs.id), "to": str(theirs.stage_id)})
        assert moved.status_code == 404
        media = await client.get(f"{BASE}/media", params={"key": f"private/{other.tenant_id}/x.png"}, headers=PT)
        assert media.status_code == 404
        action = await client.post(f"{BASE}/conversations/{theirs.id}/action", data={"action": "resolve"}, headers=HTMX)
        assert action.status_code == 404
        async with tenant_session(other.tenant_id) as session:
            canned = (await session.execute(select(CannedResponse))).scalars().first()
            team = (await session.execute(select(Team))).scalars().first()
        deleted = await client.post(f"{BASE}/canned-responses", data={"delete": str(canned.id)}, headers=HTMX)
        assert deleted.status_code == 404
        gone = await client.post(f"{BASE}/teams", data={"action": "delete", "team_id": str(team.id)}, headers=HTMX)
        assert gone.status_code == 404
    async with tenant_session(other.tenant_id) as session:
        assert await session.get(CannedResponse, canned.id) is not None and await session.get(Team, team.id) is not None
        assert (await session.get(Conversation, theirs.id)).resolved_at is None
