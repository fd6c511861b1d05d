"""Conversations on a real database: idempotent inbound under concurrency, who may speak, transfers with
summaries and notifications, wait alerts, history search, contacts merged with both histories."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from kernel.events.models import OutboxEvent
from kernel.notifications.models import Notification
from kernel.sdk import tenant_session
from plugins.inbox.models import Channel, Contact, Conversation, Message, Transfer
from plugins.inbox.services import AIReplyRefused, InboxService, Outbound, Sender
from tests.plugins.inbox.conftest import API, add_person, receive, set_inbox_settings, webchat_of

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def count(tenant_id, model, *where) -> int:
    async with tenant_session(tenant_id) as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def set_channel(tenant_id, channel_id, **values) -> None:
    async with tenant_session(tenant_id) as session:
        await session.execute(update(Channel).where(Channel.id == channel_id).values(**values))
        await session.commit()


async def conversation(tenant_id, conversation_id) -> Conversation:
    async with tenant_session(tenant_id) as session:
        return await InboxService(session).get(conversation_id)


async def test_ten_identical_deliveries_in_parallel_store_one_message(tenant):
    channel_id = await webchat_of(tenant.tenant_id)
    results = await asyncio.gather(
        *(receive(tenant.tenant_id, channel_id, "visitor-dup", "Oi, tudo bem?", "provider-42") for _ in range(10))
    )
    assert sum(created for _message, created in results) == 1
    assert len({message.id for message, _created in results}) == 1, "every delivery answers with the same message"
    assert await count(tenant.tenant_id, Message, Message.provider_message_id == "provider-42") == 1
    assert await count(tenant.tenant_id, Conversation) == 1
    assert await count(tenant.tenant_id, Contact) == 1
    stored = await conversation(tenant.tenant_id, results[0][0].conversation_id)
    assert stored.message_count == 1 and stored.unread_count == 1
    assert await count(tenant.tenant_id, OutboxEvent, OutboxEvent.name == "message.received") == 1, (
        "one message, one event"
    )


async def test_the_ai_never_speaks_while_a_person_owns_the_conversation(tenant):
    channel_id = await webchat_of(tenant.tenant_id)
    agent_id = uuid.uuid4()
    await set_channel(tenant.tenant_id, channel_id, agent_id=agent_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-ai", "Quero falar de um pedido")
    conversation_id = message.conversation_id
    assert (await conversation(tenant.tenant_id, conversation_id)).owner_kind == "agent"

    async with tenant_session(tenant.tenant_id) as session:
        inbox = InboxService(session)
        queued = await inbox.send(conversation_id, Outbound(body="Claro! Qual o número?"), Sender.agent(agent_id))
        await session.commit()
    # A person answers before the AI's reply went out: the person takes over, the AI's reply is dropped.
    async with tenant_session(tenant.tenant_id) as session:
        await InboxService(session).send(
            conversation_id, Outbound(body="Oi, aqui é a Ana"), Sender.person(tenant.admin_user_id)
        )
        await session.commit()
    async with tenant_session(tenant.tenant_id) as session:
        status = await InboxService(session).deliver(queued.id, final_attempt=True)
        await session.commit()
    assert status == "failed"
    async with tenant_session(tenant.tenant_id) as session:
        dropped = await session.get(Message, queued.id)
        assert dropped.error == "owner_changed"
        current = await InboxService(session).get(conversation_id)
        assert current.owner_kind == "person" and current.owner_user_id == tenant.admin_user_id
        with pytest.raises(AIReplyRefused):
            await InboxService(session).send(conversation_id, Outbound(body="Posso ajudar?"), Sender.agent(agent_id))
        note = await InboxService(session).send(
            conversation_id, Outbound(body="nota interna da IA", private=True), Sender.agent(agent_id)
        )
        assert note.status == "note", "a private note is never sent, so the AI may leave one"
        await session.commit()


async def test_a_paused_ai_stays_paused_through_new_messages_resolution_and_reopening(tenant, atendai_client):
    channel_id = await webchat_of(tenant.tenant_id)
    agent_id = uuid.uuid4()
    await set_channel(tenant.tenant_id, channel_id, agent_id=agent_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-pause", "Oi")
    conversation_id = message.conversation_id
    paused = await atendai_client.post(f"{API}/conversations/{conversation_id}/pause-ai", headers=tenant.headers)
    assert paused.status_code == 200 and paused.json()["ai_paused"] is True
    await receive(tenant.tenant_id, channel_id, "visitor-pause", "Alguém aí?")
    resolved = await atendai_client.post(f"{API}/conversations/{conversation_id}/resolve", headers=tenant.headers)
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]
    again, _ = await receive(tenant.tenant_id, channel_id, "visitor-pause", "Voltei")
    assert again.conversation_id == conversation_id, "a message within the reopen window reopens the conversation"
    current = await conversation(tenant.tenant_id, conversation_id)
    assert current.resolved_at is None and current.owner_kind == "agent" and current.ai_paused
    async with tenant_session(tenant.tenant_id) as session:
        with pytest.raises(AIReplyRefused):
            await InboxService(session).send(conversation_id, Outbound(body="Olá!"), Sender.agent(agent_id))
    resumed = await atendai_client.post(f"{API}/conversations/{conversation_id}/resume-ai", headers=tenant.headers)
    assert resumed.json()["ai_paused"] is False
    async with tenant_session(tenant.tenant_id) as session:
        reply = await InboxService(session).send(conversation_id, Outbound(body="Olá!"), Sender.agent(agent_id))
        await session.commit()
    assert reply.status == "queued"


async def test_a_transfer_writes_a_summary_shows_it_first_and_notifies_the_new_owner(
    tenant, atendai_kernel, atendai_client
):
    channel_id = await webchat_of(tenant.tenant_id)
    carla = await add_person(atendai_kernel, atendai_client, tenant.tenant_id, "operator", "Carla")
    message, _ = await receive(
        tenant.tenant_id, channel_id, "visitor-transfer", "Oi, nao consigo pagar o boleto do pedido 4521"
    )
    await receive(tenant.tenant_id, channel_id, "visitor-transfer", "O app da erro quando gero o boleto")
    conversation_id = message.conversation_id
    preview = await atendai_client.get(
        f"{API}/conversations/{conversation_id}/transfer-preview", headers=tenant.headers
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["source"] == "offline"
    assert any("4521" in point for point in body["key_points"]), body

    transferred = await atendai_client.post(
        f"{API}/conversations/{conversation_id}/transfer",
        json={"to_kind": "person", "to_id": str(carla.user_id), "reason": "Pagamento", "summary": body["summary"]},
        headers=tenant.headers,
    )
    assert transferred.status_code == 201, transferred.text
    record = transferred.json()
    assert record["summary"] == body["summary"] and record["to_kind"] == "person"
    current = await conversation(tenant.tenant_id, conversation_id)
    assert current.owner_kind == "person" and current.owner_user_id == carla.user_id
    assert current.summary == body["summary"]
    async with tenant_session(tenant.tenant_id) as session:
        notes = (
            (
                await session.execute(
                    select(Message).where(Message.conversation_id == conversation_id, Message.private.is_(True))
                )
            )
            .scalars()
            .all()
        )
        assert [n.payload.get("auto") for n in notes] == ["transfer"] and notes[0].body == body["summary"]
        told = (
            (
                await session.execute(
                    select(Notification).where(
                        Notification.user_id == carla.user_id, Notification.kind == "inbox.transferred"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert len(told) == 1 and told[0].params["summary"].startswith(body["summary"][:50])
        assert (await session.execute(select(func.count()).select_from(Transfer))).scalar_one() == 1

    # The new owner sees the conversation as theirs; an operator cannot take someone else's.
    mine = await atendai_client.get(f"{API}/conversations", params={"mine": "true"}, headers=carla.headers)
    assert [c["id"] for c in mine.json()["items"]] == [str(conversation_id)]
    dave = await add_person(atendai_kernel, atendai_client, tenant.tenant_id, "operator", "Dave")
    refused = await atendai_client.post(
        f"{API}/conversations/{conversation_id}/messages", json={"body": "oi"}, headers=dave.headers
    )
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")


async def test_a_transfer_without_a_summary_writes_one_and_an_unknown_target_is_refused(tenant, atendai_client):
    channel_id = await webchat_of(tenant.tenant_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-auto", "Preciso trocar o tamanho do tênis 42")
    conversation_id = message.conversation_id
    bad = await atendai_client.post(
        f"{API}/conversations/{conversation_id}/transfer",
        json={"to_kind": "person", "to_id": str(uuid.uuid4())},
        headers={**tenant.headers, "Accept-Language": "en"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to_id"
    done = await atendai_client.post(
        f"{API}/conversations/{conversation_id}/transfer",
        json={"to_kind": "person", "to_id": str(tenant.admin_user_id)},
        headers=tenant.headers,
    )
    assert done.status_code == 201, done.text
    assert "42" in done.json()["summary"] and done.json()["summary_source"] == "offline"


async def test_the_wait_alert_fires_at_its_threshold_once(tenant, atendai_kernel, atendai_client):
    channel_id = await webchat_of(tenant.tenant_id)
    urgent, _ = await receive(tenant.tenant_id, channel_id, "visitor-urgent", "URGENTE: cobrança em dobro")
    calm, _ = await receive(tenant.tenant_id, channel_id, "visitor-calm", "Quando abre a loja?")
    await atendai_client.patch(
        f"{API}/conversations/{urgent.conversation_id}", json={"priority": "urgent"}, headers=tenant.headers
    )
    now = datetime.now(UTC)
    async with tenant_session(tenant.tenant_id) as session:
        # Urgent: 5 minutes by default; normal: 30. Both have waited 6 minutes.
        await session.execute(
            update(Conversation)
            .where(Conversation.id.in_([urgent.conversation_id, calm.conversation_id]))
            .values(waiting_since=now - timedelta(minutes=6))
        )
        await session.commit()
    async with tenant_session(tenant.tenant_id) as session:
        alerted = await InboxService(session).wait_alerts(now)
        await session.commit()
    assert [c.id for c in alerted] == [urgent.conversation_id]
    async with tenant_session(tenant.tenant_id) as session:
        assert await InboxService(session).wait_alerts(now + timedelta(minutes=1)) == [], "one alert per wait"
        later = await InboxService(session).wait_alerts(now + timedelta(minutes=25))
        await session.commit()
    assert [c.id for c in later] == [calm.conversation_id], "normal priority alerts after 30 minutes"
    assert await count(tenant.tenant_id, OutboxEvent, OutboxEvent.name == "conversation.wait_alert") == 2
    assert await count(tenant.tenant_id, Notification, Notification.kind == "inbox.wait_alert") >= 2
    # A reply ends the wait; the next message starts a new one, which may alert again.
    async with tenant_session(tenant.tenant_id) as session:
        await InboxService(session).send(
            urgent.conversation_id, Outbound(body="Já vejo"), Sender.person(tenant.admin_user_id)
        )
        await session.commit()
    assert (await conversation(tenant.tenant_id, urgent.conversation_id)).waiting_since is None


async def test_history_search_ignores_accents_and_jumps_to_the_message(tenant, atendai_client):
    channel_id = await webchat_of(tenant.tenant_id)
    hit, _ = await receive(tenant.tenant_id, channel_id, "visitor-search", "Oi, não consigo pagar com o cartão")
    await receive(tenant.tenant_id, channel_id, "visitor-other", "Quero saber do frete")
    found = await atendai_client.get(f"{API}/search", params={"q": "nao consigo pagar"}, headers=tenant.headers)
    assert found.status_code == 200, found.text
    hits = found.json()
    assert [h["message_id"] for h in hits] == [str(hit.id)]
    assert hits[0]["conversation_id"] == str(hit.conversation_id) and "<mark>" in hits[0]["snippet"]
    accented = await atendai_client.get(f"{API}/search", params={"q": "NÃO CONSIGO"}, headers=tenant.headers)
    assert [h["message_id"] for h in accented.json()] == [str(hit.id)]
    empty = await atendai_client.get(f"{API}/search", params={"q": ""}, headers=tenant.headers)
    assert empty.status_code == 422 and empty.headers["content-type"].startswith("application/problem+json")


async def test_merging_contacts_keeps_both_histories(tenant, atendai_client):
    channel_id = await webchat_of(tenant.tenant_id)
    first, _ = await receive(tenant.tenant_id, channel_id, "visitor-home", "Comprei ontem pelo site")
    second, _ = await receive(tenant.tenant_id, channel_id, "visitor-phone", "Sou eu de novo, pelo celular")
    a = (await conversation(tenant.tenant_id, first.conversation_id)).contact_id
    b = (await conversation(tenant.tenant_id, second.conversation_id)).contact_id
    assert a != b
    merged = await atendai_client.post(f"{API}/contacts/{a}/merge", json={"merge_id": str(b)}, headers=tenant.headers)
    assert merged.status_code == 200, merged.text
    identities = {i["address"] for i in merged.json()["identities"]}
    assert identities == {"visitor-home", "visitor-phone"}
    listed = await atendai_client.get(
        f"{API}/conversations", params={"contact_id": str(a), "status": "all"}, headers=tenant.headers
    )
    assert {c["id"] for c in listed.json()["items"]} == {str(first.conversation_id), str(second.conversation_id)}
    # The merged contact's next message lands with the contact that stayed.
    later, _ = await receive(tenant.tenant_id, channel_id, "visitor-phone", "Alguma novidade?")
    assert (await conversation(tenant.tenant_id, later.conversation_id)).contact_id == a
    again = await atendai_client.post(f"{API}/contacts/{a}/merge", json={"merge_id": str(b)}, headers=tenant.headers)
    assert again.status_code == 422


async def test_a_reply_is_delivered_to_the_web_chat_and_receipts_never_go_back(tenant):
    channel_id = await webchat_of(tenant.tenant_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-deliver", "Oi")
    async with tenant_session(tenant.tenant_id) as session:
        reply = await InboxService(session).send(
            message.conversation_id, Outbound(body="Olá!"), Sender.person(tenant.admin_user_id)
        )
        await session.commit()
    async with tenant_session(tenant.tenant_id) as session:
        status = await InboxService(session).deliver(reply.id, final_attempt=False)
        await session.commit()
    assert status in ("sent", "delivered")
    async with tenant_session(tenant.tenant_id) as session:
        inbox = InboxService(session)
        read = await inbox.update_status(channel_id, str(reply.id), "read")
        assert read.status == "read" and read.read_at is not None
        late = await inbox.update_status(channel_id, str(reply.id), "delivered")
        assert late.status == "read", "a late 'delivered' receipt does not undo 'read'"
        assert await inbox.deliver(reply.id, final_attempt=True) == "read", "delivering twice sends nothing"
        await session.commit()


async def test_contacts_get_canonical_phones_and_bad_input_is_explained(tenant, atendai_client):
    created = await atendai_client.post(
        f"{API}/contacts",
        json={"name": "Rita", "phones": ["(11) 8888-7777"], "emails": ["Rita@Example.com"]},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["phones"] == ["+5511988887777"] and body["emails"] == ["rita@example.com"]
    assert {"kind": "whatsapp", "address": "+5511988887777", "display": ""} in body["identities"]
    bad = await atendai_client.post(
        f"{API}/contacts", json={"name": "X", "phones": ["12"]}, headers={**tenant.headers, "Accept-Language": "en"}
    )
    assert bad.status_code == 422
    problem = bad.json()
    assert problem["errors"][0]["field"] == "phones[0]" and "12" in problem["detail"]
    found = await atendai_client.get(f"{API}/contacts", params={"q": "8888"}, headers=tenant.headers)
    assert [c["name"] for c in found.json()["items"]] == ["Rita"]


async def test_export_and_erase_a_contact(tenant, atendai_client):
    channel_id = await webchat_of(tenant.tenant_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-lgpd", "Meu CPF é 123.456.789-00", name="Lia")
    contact_id = (await conversation(tenant.tenant_id, message.conversation_id)).contact_id
    exported = await atendai_client.get(f"{API}/contacts/{contact_id}/export", headers=tenant.headers)
    assert exported.status_code == 200
    assert exported.json()["conversations"][0]["messages"][0]["body"] == "Meu CPF é 123.456.789-00"
    erased = await atendai_client.post(
        f"{API}/contacts/{contact_id}/erase", json={"reason": "pedido do titular"}, headers=tenant.headers
    )
    assert erased.status_code == 200 and erased.json()["name"] == "" and erased.json()["erased_at"]
    async with tenant_session(tenant.tenant_id) as session:
        kept = await session.get(Message, message.id)
        assert kept.body == "", "what the contact wrote is gone"
        assert (await InboxService(session).get(message.conversation_id)).message_count == 1, "counts stay"


async def test_out_of_hours_the_customer_is_told_once(make_tenant):
    tenant = await make_tenant(seed=False)
    await set_inbox_settings(
        tenant.tenant_id, business_hours={"week": {}}, out_of_hours_message="Voltamos amanhã às 8h."
    )
    channel_id = await webchat_of(tenant.tenant_id)
    first, _ = await receive(tenant.tenant_id, channel_id, "visitor-night", "Oi, estão aí?")
    await receive(tenant.tenant_id, channel_id, "visitor-night", "Alô?")
    async with tenant_session(tenant.tenant_id) as session:
        notices = (
            (
                await session.execute(
                    select(Message).where(
                        Message.conversation_id == first.conversation_id, Message.sender_kind == "system"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(n.body, n.payload["auto"]) for n in notices] == [("Voltamos amanhã às 8h.", "out_of_hours")]


async def test_the_sweep_queues_replies_whose_delivery_was_never_queued(tenant):
    from plugins.inbox.jobs import wait_sweep

    channel_id = await webchat_of(tenant.tenant_id)
    inbound, _ = await receive(tenant.tenant_id, channel_id, "visitor-stuck", "Oi")
    async with tenant_session(tenant.tenant_id) as session:
        # Written as a command-line seed would: stored, but no delivery job behind it.
        stuck = Message(
            conversation_id=inbound.conversation_id,
            channel_id=channel_id,
            direction="out",
            sender_kind="person",
            sender_user_id=tenant.admin_user_id,
            kind="text",
            body="Olá!",
            payload={},
            private=False,
            status="queued",
            attempts=0,
        )
        session.add(stuck)
        await session.flush()
        await session.execute(
            update(Message).where(Message.id == stuck.id).values(created_at=datetime.now(UTC) - timedelta(minutes=3))
        )
        await session.commit()
    result = await wait_sweep(None)
    assert result["requeued"] >= 1
    for _ in range(100):
        async with tenant_session(tenant.tenant_id) as session:
            status = (await session.get(Message, stuck.id)).status
        if status != "queued":
            break
        await asyncio.sleep(0.1)
    assert status in ("sent", "delivered")


async def test_the_answer_to_the_rating_request_is_recorded_without_reopening(tenant, atendai_client):
    channel_id = await webchat_of(tenant.tenant_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-csat", "Obrigada, resolvido!")
    conversation_id = message.conversation_id
    resolved = await atendai_client.post(f"{API}/conversations/{conversation_id}/resolve", headers=tenant.headers)
    assert resolved.status_code == 200
    rating, created = await receive(tenant.tenant_id, channel_id, "visitor-csat", "5 estrelas")
    assert created and rating.conversation_id == conversation_id
    current = await conversation(tenant.tenant_id, conversation_id)
    assert current.resolved_at is not None and current.csat_score == 5, "a rating does not reopen the conversation"
    assert await count(tenant.tenant_id, OutboxEvent, OutboxEvent.name == "csat.received") == 1
    # Anything else the customer writes afterwards reopens it, as any message would.
    later, _ = await receive(tenant.tenant_id, channel_id, "visitor-csat", "Ah, e outra coisa: 5 pares de meia")
    assert later.conversation_id == conversation_id
    assert (await conversation(tenant.tenant_id, conversation_id)).resolved_at is None


async def test_a_message_cannot_carry_another_organizations_file(tenant, make_tenant, atendai_client):
    other = await make_tenant(seed=False)
    channel_id = await webchat_of(tenant.tenant_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-file", "Segue o comprovante")
    foreign = {"key": f"private/{other.tenant_id}/inbox/comprovante.pdf", "content_type": "application/pdf"}
    refused = await atendai_client.post(
        f"{API}/conversations/{message.conversation_id}/messages",
        json={"kind": "document", "media": foreign},
        headers=tenant.headers,
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["message"] == "foreign"


async def test_automatic_messages_speak_the_customers_language_without_a_request(make_tenant):
    tenant = await make_tenant(seed=False)
    await set_inbox_settings(tenant.tenant_id, business_hours={"week": {}})
    channel_id = await webchat_of(tenant.tenant_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-lang", "Oi")
    async with tenant_session(tenant.tenant_id) as session:
        notice = (
            await session.execute(
                select(Message).where(
                    Message.conversation_id == message.conversation_id, Message.sender_kind == "system"
                )
            )
        ).scalar_one()
    assert notice.body.startswith("Olá! No momento estamos fora do horário"), notice.body


async def test_a_transfer_to_another_channels_address_delivers_the_summary_there(tenant, atendai_client):
    channel_id = await webchat_of(tenant.tenant_id)
    message, _ = await receive(tenant.tenant_id, channel_id, "visitor-forward", "Quero cancelar o pedido 9910")
    sent = await atendai_client.post(
        f"{API}/conversations/{message.conversation_id}/transfer",
        json={
            "to_kind": "destination",
            "to_id": str(channel_id),
            "destination": "supervisors-room",
            "reason": "Cancelamento",
            "summary": "Cliente quer cancelar o pedido 9910.",
        },
        headers=tenant.headers,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["destination"] == "supervisors-room"
    async with tenant_session(tenant.tenant_id) as session:
        forwarded = (
            await session.execute(
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(
                    Message.sender_kind == "system",
                    Message.body.contains("9910"),
                    Conversation.id != message.conversation_id,
                )
            )
        ).scalar_one()
        assert forwarded.body.startswith("A conversa #") and "Cancelamento" in forwarded.body
        assert (await session.get(Conversation, forwarded.conversation_id)).ai_paused
    missing = await atendai_client.post(
        f"{API}/conversations/{message.conversation_id}/transfer",
        json={"to_kind": "destination", "destination": "x"},
        headers=tenant.headers,
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "to_id"


async def test_a_channel_finds_the_contact_registered_with_that_phone_or_email(tenant, atendai_client):
    from plugins.inbox.contacts import ContactService, Identity

    created = await atendai_client.post(
        f"{API}/contacts",
        json={"name": "Bia", "phones": ["+55 21 99876-5432"], "emails": ["bia@example.com"]},
        headers=tenant.headers,
    )
    contact_id = created.json()["id"]
    async with tenant_session(tenant.tenant_id) as session:
        by_phone, _, new_phone = await ContactService(session).resolve(
            Identity("webchat", "visitor-bia-1"), phone="(21) 99876-5432"
        )
        by_email, _, new_email = await ContactService(session).resolve(
            Identity("webchat", "visitor-bia-2"), email="BIA@example.com"
        )
        await session.commit()
    assert str(by_phone.id) == str(by_email.id) == contact_id and not new_phone and not new_email
