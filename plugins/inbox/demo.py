"""What an organization gets when the inbox is enabled, and the demo data (``atendai demo``)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.inbox.contacts import Identity
from plugins.inbox.models import CannedResponse, Channel, Message, Team
from plugins.inbox.stages import ensure_default_stages

__all__ = ["ensure_defaults", "ensure_webchat", "seed"]


def new_public_key() -> str:
    return secrets.token_urlsafe(24)


async def ensure_webchat(session: AsyncSession) -> Channel:
    """The organization's web chat channel (every organization has one to try the whole path)."""
    found = (
        await session.execute(select(Channel).where(Channel.kind == "webchat").order_by(Channel.created_at).limit(1))
    ).scalar_one_or_none()
    if found is not None:
        return found
    channel = Channel(kind="webchat", name="Web chat", active=True, public_key=new_public_key(), settings={})
    session.add(channel)
    await session.flush()
    return channel


async def ensure_defaults(session: AsyncSession) -> None:
    await ensure_default_stages(session)
    await ensure_webchat(session)


async def seed(session: AsyncSession) -> None:
    """A team with the organization's first person, canned responses, and a few conversations."""
    from plugins.inbox.services import Inbound, InboxService, Outbound, Sender
    from plugins.inbox.teams import TeamService

    await ensure_defaults(session)
    channel = await ensure_webchat(session)
    user_id = (
        await session.execute(
            text(
                "SELECT id FROM users WHERE tenant_id = current_setting('app.tenant_id')::uuid AND is_active "
                "ORDER BY created_at LIMIT 1"
            )
        )
    ).scalar_one_or_none()
    teams = TeamService(session)
    team = (await session.execute(select(Team).where(Team.name == "Atendimento"))).scalar_one_or_none()
    if team is None:
        team = await teams.create("Atendimento", assignment="round_robin", capacity=10)
    if user_id is not None:
        await teams.add_member(team.id, user_id)
    channel.team_id = team.id
    for shortcut, title, body in (
        ("ola", "Saudação", "Olá! Obrigado por falar com a gente. Como posso ajudar?"),
        ("prazo", "Prazo de entrega", "O prazo de entrega é de 3 a 7 dias úteis depois da confirmação do pagamento."),
        ("pix", "Pagamento por PIX", "Você pode pagar por PIX: enviamos o código copia e cola aqui mesmo."),
    ):
        exists = (await session.execute(select(CannedResponse.id).where(CannedResponse.shortcut == shortcut))).first()
        if exists is None:
            session.add(CannedResponse(shortcut=shortcut, title=title, body=body))
    await session.flush()
    inbox = InboxService(session)
    now = datetime.now(UTC)
    samples = [
        (
            "demo-maria",
            "Maria Souza",
            "+5511988887777",
            ["Oi, não consigo pagar o boleto do pedido 4521", "Dá erro no app"],
        ),
        ("demo-joao", "João Lima", "+5521977776666", ["Qual o prazo de entrega pra Niterói?"]),
        ("demo-ana", "Ana Costa", None, ["Vocês têm a camiseta azul no tamanho M?"]),
    ]
    for visitor, name, phone, texts in samples:
        conversation_id = None
        for index, body in enumerate(texts):
            message, _created = await inbox.receive(
                Inbound(
                    channel_id=channel.id,
                    identity=Identity("webchat", visitor, name),
                    provider_message_id=f"{visitor}-{index}",
                    body=body,
                    name=name,
                    phone=phone,
                    sent_at=now - timedelta(minutes=30 - index),
                )
            )
            conversation_id = message.conversation_id
        if conversation_id is not None and user_id is not None and visitor == "demo-joao":
            await inbox.send(
                conversation_id,
                Outbound(body="O prazo para Niterói é de 2 a 4 dias úteis."),
                Sender.person(user_id),
            )
        if conversation_id is not None and visitor == "demo-maria":
            await inbox.transfer(
                conversation_id,
                "team",
                team.id,
                reason="Pagamento",
                by=Sender.system(),
            )
    await session.flush()
    # Deliver the demo's replies now: a seeded organization has no background work left to change it.
    queued = await session.execute(select(Message.id).where(Message.status == "queued"))
    for message_id in list(queued.scalars()):
        await inbox.deliver(message_id, final_attempt=True)
    await session.flush()
