"""Inbox latency: one organization with 500,000 conversations and 5,000,000 messages among 20 small ones.

Usage: .venv/bin/python bench/inbox.py [--conversations 500000] [--messages 5000000] [--quick] [--repeat 20]
       [--no-docs] [--keep DIR]

Starts a private embedded PostgreSQL 18 on a temporary data directory, migrates it with every installed
plugin, provisions 21 organizations through the kernel's tenancy service and gives each, through the
inbox's own services, its people, teams (one assigning by round robin), two more board stages, and
WhatsApp and Instagram channels beside the web chat. Then, in bulk as the database owner, the history:
the big organization gets ``--conversations`` conversations and ``--messages`` messages spread over two
years (more recent months busier, business hours busier), the small ones 150-400 conversations each.
Texts are generated WhatsApp-style Portuguese (short, abbreviations, accents often dropped, order numbers,
tracking codes, money) from templates and slot values drawn with Zipf weights; conversations have
contacts (some come back), owners (people, a team's queue, an AI agent, nobody), stages, tags, priorities,
waits and snoozes consistent with their messages. Contacts, identities and conversations are COPYed into
their tables; messages into a staging table, then one INSERT ... SELECT per core in time order computes
the generated ``tsv``. The message indexes are dropped before and rebuilt after, timed; VACUUM ANALYZE.

Then, each call in a tenant-scoped session of its own, as the API runs them: the board and list queries
(``list_conversations``), the thread (``InboxService.messages``), the history search (``search_history``),
and the inbound-to-visible latency: ``InboxService.receive`` of a message from a new and from an existing
contact, committed, then the operator's list query in a new session, checking the conversation is on its
first page; alone and with 10 concurrent senders. Prints p50/p95/mean, where the time of ``receive``
goes, the query plans of the slow statements (EXPLAIN (ANALYZE, BUFFERS): the first execution, and the
sixth execution of the prepared statement, which a pooled connection runs from then on), and writes the
"Inbox" section of docs/performance.md (not with ``--quick`` or ``--no-docs``), keeping the hand-written
notes after its ``NOTES`` marker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import random
import re
import secrets
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from knowledge_search import Seeding, _plan_facts, _steady_plan, mb, memory_gib, owner_connection, start_database

DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
SECTION = "## Inbox"
NOTES = "<!-- Notes written by hand: bench/inbox.py keeps what follows when it rewrites the section. -->"
SMALL_TENANTS = 20
SMALL_CONVERSATIONS = (150, 400)
SMALL_MESSAGES_PER_CONVERSATION = 8
SPAN_DAYS = 730
LONG_THREADS = (8000, 5000, 4000, 3000, 2000)
"""Messages of the big organization's longest conversations (a wholesale customer writing for months)."""
PEOPLE = 40
AGENT_ID = uuid.UUID("0195f000-0000-7000-8000-00000000a1a1")
"""The AI agent that answers the Instagram channel (the agents plugin's id: not a foreign key)."""
PAGE = 50
WARMUP = 6
"""Calls before the timed ones: caches, and the sixth execution on the connection (generic plans)."""
BUDGET = 20.0
"""Seconds a measurement may take before it stops at its fifth sample."""
INBOUND = 100
"""Messages received one at a time, from new contacts and as many from existing ones."""
SENDERS, PER_SENDER = 10, 20

# --- the generated texts -------------------------------------------------------------------------------
# Every list is ordered from common to rare and drawn from with Zipf weights.

GREETINGS = [
    "oi", "bom dia", "boa tarde", "oi, tudo bem?", "olá", "boa noite", "oi boa tarde", "olá, bom dia!",
    "oi, preciso de ajuda", "bom dia, tudo bem?", "alguém aí?", "oii", "boa tarde, tudo bom?", "opa",
]  # fmt: skip
SHORT_IN = [
    "ok", "obrigado", "sim", "certo", "obrigada", "não", "entendi", "tá bom", "ok, obrigado", "beleza",
    "?", "aguardo", "perfeito", "isso", "pode ser", "ainda não", "muito obrigada!", "tá", "👍", "??",
    "kkkk", "blz, obrigado", "ok vou ver", "já fiz isso", "to esperando", "e aí?", "alguém?", "valeu",
    "entendi, obrigado pela atenção", "show", "ah ok", "nossa", "sério?", "pode sim", "um minuto",
]  # fmt: skip
TOPICS_IN: dict[str, list[str]] = {
    "entrega": [
        "meu pedido {pedido} ainda não chegou", "cadê meu pedido? já faz {n} dias", "quero saber do pedido {pedido}",
        "qual o prazo de entrega pra {cidade}?", "o rastreio {rastreio} não atualiza desde {data}",
        "consta como entregue mas eu não recebi nada", "pedido {pedido} atrasado", "o entregador não veio hoje",
        "vocês entregam no sábado?", "o endereço é {rua}, {num}, {bairro}, {cidade}",
        "quanto tempo demora pra chegar em {cidade}?", "mudei de endereço, dá pra alterar a entrega do {pedido}?",
        "a transportadora disse que não achou o endereço", "o pacote chegou aberto", "veio faltando um item",
        "comprei dia {data} e até agora nada", "o código de rastreio não funciona",
    ],
    "troca": [
        "quero trocar o tamanho, pedi {tamanho} e ficou pequeno", "o {produto} veio com defeito",
        "como faço pra devolver?", "veio a cor errada, eu pedi {cor}", "quero devolver o pedido {pedido}",
        "a etiqueta de devolução não chegou no email", "já postei a devolução, código {rastreio}",
        "o {produto} parou de funcionar", "posso trocar na loja do {loja}?", "quero trocar por outro modelo",
        "o {produto} chegou quebrado", "segue a foto do defeito",
    ],
    "pagamento": [
        "não consigo pagar o boleto", "não consigo pagar com pix, dá erro", "segue o comprovante",
        "paguei {valor} no pix e o pedido não foi aprovado", "meu cartão {banco} foi recusado",
        "posso parcelar em {parcelas}x?", "o boleto venceu, podem mandar outro?", "qual a chave pix?",
        "fui cobrado duas vezes, {valor} no cartão", "não consigo pagar, o app fecha sozinho",
        "o pagamento tá pendente até agora", "paguei o boleto ontem, quando compensa?",
    ],
    "reembolso": [
        "quero o estorno de {valor}", "quando cai o reembolso?", "o estorno ainda não apareceu na fatura do {banco}",
        "já faz {n} dias e nada do reembolso", "cancelaram meu pedido e não devolveram o dinheiro",
        "quero meu dinheiro de volta", "o estorno foi de {valor} mas paguei {valor2}",
    ],
    "produto": [
        "tem o {produto} na cor {cor}?", "tem no tamanho {tamanho}?", "qual o preço do {produto}?",
        "o {produto} é original?", "quando volta ao estoque?", "o {produto} tem garantia?",
        "vocês têm loja em {cidade}?", "qual a voltagem do {produto}?", "serve pra {tamanho}?",
        "o {produto} vem com nota fiscal?",
    ],
    "cancelamento": [
        "quero cancelar o pedido {pedido}", "comprei errado, dá pra cancelar?", "cancela por favor",
        "ainda dá tempo de cancelar?", "desisti da compra",
    ],
    "cupom": [
        "o cupom {cupom} não está funcionando", "tem cupom de desconto?", "o desconto não aplicou no carrinho",
        "o frete grátis não apareceu",
    ],
    "conta": [
        "não consigo entrar no app", "esqueci minha senha", "o app dá {erro}", "meu cpf é {cpf}",
        "quero mudar meu email", "não recebi o código de verificação",
    ],
    "nota": ["preciso da nota fiscal do pedido {pedido}", "a nota veio com o cpf errado", "cadê a nota fiscal?"],
    "reclamacao": [
        "quero falar com um atendente humano", "ninguém responde aqui", "péssimo atendimento",
        "é a terceira vez que eu peço", "vou abrir reclamação no procon", "já reclamei no reclame aqui",
        "vou cancelar tudo e nunca mais compro", "isso é um absurdo",
    ],
}  # fmt: skip
SHORT_OUT = [
    "Só um momento, por favor.", "Vou verificar, um instante.", "Obrigado pelo contato!",
    "Posso ajudar em algo mais?", "Me passa o número do pedido, por favor?", "Desculpe a demora!",
    "Olá! Meu nome é {atendente}, como posso ajudar?", "Por nada, {cliente}! Qualquer coisa é só chamar.",
    "Pode me confirmar o seu CPF?", "Entendi.", "Perfeito!", "Bom dia, {cliente}! Tudo bem?",
    "Consegue me mandar um print da tela?", "Estou verificando com o setor responsável.",
]  # fmt: skip
TOPICS_OUT: dict[str, list[str]] = {
    "entrega": [
        "O pedido {pedido} saiu para entrega hoje.", "O código de rastreio é {rastreio}.",
        "O prazo para {cidade} é de {n} dias úteis.", "Vamos reenviar o pedido {pedido} sem custo.",
        "Abri uma reclamação com a transportadora, a resposta sai em até {n} dias úteis.",
    ],
    "troca": [
        "Enviamos a etiqueta de devolução para o seu e-mail.", "Consegue me enviar uma foto do produto?",
        "A troca foi aprovada, o novo {produto} sai em até {n} dias.", "Pode postar em qualquer agência dos Correios.",
    ],
    "pagamento": [
        "Geramos um novo boleto no valor de {valor}, vence em {data}.", "Segue o código PIX copia e cola: {pix}",
        "O pagamento de {valor} foi confirmado.", "Pode parcelar em até {parcelas}x sem juros no cartão.",
    ],
    "reembolso": [
        "O estorno de {valor} foi solicitado e aparece em até duas faturas.",
        "O reembolso via PIX cai em até {n} dias úteis.",
    ],
    "produto": [
        "Temos sim, na cor {cor} e no tamanho {tamanho}.", "Esse modelo está esgotado, a previsão é {data}.",
        "O {produto} custa {valor} à vista.",
    ],
    "cancelamento": [
        "Seu pedido foi cancelado e o valor de {valor} será devolvido.",
        "O pedido já foi faturado, vou pedir o cancelamento à transportadora.",
    ],
    "cupom": ["O cupom {cupom} vale para compras acima de {valor}.", "Apliquei o desconto no seu pedido."],
    "conta": [
        "Enviei o link para criar uma nova senha no seu e-mail.", "Tente atualizar o aplicativo e entrar de novo.",
    ],
    "nota": ["A nota fiscal do pedido {pedido} foi enviada para o seu e-mail."],
    "reclamacao": [
        "Sinto muito pelo transtorno, {cliente}. Vou resolver isso agora.", "Vou transferir para o setor responsável.",
    ],
}  # fmt: skip
AGENT_OUT = [
    "Olá! Sou a assistente virtual da loja. Como posso ajudar?",
    "Para consultar o seu pedido, me informe o número, por favor.",
    "Encontrei o pedido {pedido}: está em transporte, com previsão de entrega em {data}.",
    "Vou transferir para um atendente humano, só um instante.",
]
NOTES_OUT = [
    "cliente recorrente", "verificar com a logística o pedido {pedido}", "estorno aprovado pelo financeiro",
    "cliente ameaçou procon", "já abri chamado na transportadora",
]  # fmt: skip
CSAT_QUESTION = "Como você avalia este atendimento? Responda de 1 a 5."
TOPIC_NAMES = list(TOPICS_IN)


def _words(text: str) -> list[str]:
    return text.split(", ")


PRODUTOS = _words(
    "tênis, camiseta, calça jeans, fone bluetooth, vestido, air fryer, celular, jaqueta, mochila, relógio, "
    "liquidificador, sandália, bolsa, moletom, carregador, cafeteira, notebook, ventilador, panela, smartwatch, "
    "óculos de sol, tablet, perfume, colchão, cadeira gamer, bermuda, bota, batedeira, caixa de som, micro-ondas, "
    "boné, travesseiro, secador, chapinha, aspirador, tapete, luminária, guarda-roupa, bicicleta, patinete, "
    "edredom, cortina, sapatênis, pijama, biquíni, chinelo, teclado, mouse, monitor, impressora, roteador"
)
CIDADES = _words(
    "São Paulo, Rio de Janeiro, Belo Horizonte, Curitiba, Porto Alegre, Salvador, Recife, Fortaleza, Brasília, "
    "Goiânia, Campinas, Florianópolis, Manaus, Belém, Vitória, Santos, Niterói, São Luís, Maceió, Natal, "
    "João Pessoa, Teresina, Aracaju, Cuiabá, Campo Grande, Londrina, Maringá, Joinville, Blumenau, Ribeirão Preto, "
    "Sorocaba, Uberlândia, Juiz de Fora, Caxias do Sul, Pelotas, Feira de Santana, Campina Grande, Caruaru, "
    "Petrolina, Palmas, Porto Velho, Rio Branco, Macapá, Boa Vista, Chapecó, Cascavel, Foz do Iguaçu, Bauru"
)
CORES = _words("preto, branco, azul, rosa, cinza, vermelho, verde, bege, marrom, amarelo, lilás, vinho, off-white")
TAMANHOS = _words("M, P, G, 38, 40, GG, 42, 36, 39, 41, 37, PP, 44, 34, XG")
BANCOS = _words("Nubank, Itaú, Bradesco, Banco do Brasil, Caixa, Santander, Inter, C6, Mercado Pago, PicPay")
CUPONS = _words("PRIMEIRACOMPRA, FRETEGRATIS, VOLTEI10, APP15, BLACK30, NIVER20, PIX5")
LOJAS = _words("Shopping Center Norte, Iguatemi, BH Shopping, Shopping Recife, Park Shopping, Shopping Barra")
RUAS = _words("Rua das Flores, Av. Brasil, Rua XV de Novembro, Rua Augusta, Av. Paulista, Rua Sete de Setembro")
BAIRROS = _words("Centro, Pinheiros, Boa Viagem, Copacabana, Savassi, Batel, Meireles, Pituba, Tijuca, Moema")
ERROS = _words("erro 500, erro de conexão, tela branca, erro E-1043, falha no login, erro desconhecido")
DATAS = _words("amanhã, segunda, 12/03, sexta, 05/11, semana que vem, 20/07, ontem, 30/09, dia 15")
PRECOS = (49, 79, 99, 129, 149, 199, 249, 299, 59, 89, 399, 499, 39, 699, 999, 1299, 29, 1899, 2499, 19)
FIRST_NAMES = _words(
    "Maria, Ana, João, José, Francisca, Antônio, Carlos, Paulo, Pedro, Lucas, Luiz, Marcos, Adriana, Juliana, "
    "Márcia, Fernanda, Patrícia, Aline, Gabriel, Rafael, Daniel, Marcelo, Bruno, Eduardo, Felipe, Camila, "
    "Amanda, Bruna, Letícia, Beatriz, Larissa, Mariana, Vanessa, Rodrigo, Thiago, Gustavo, Leonardo, Matheus, "
    "Sandra, Luana, Raimundo, Sebastião, Kelly, Jéssica, Priscila, Vitória, Igor, Caio, Renata, Tatiane"
)
LAST_NAMES = _words(
    "Silva, Santos, Oliveira, Souza, Rodrigues, Ferreira, Alves, Pereira, Lima, Gomes, Costa, Ribeiro, Martins, "
    "Carvalho, Almeida, Lopes, Soares, Fernandes, Vieira, Barbosa, Rocha, Dias, Nascimento, Andrade, Moreira"
)
TAGS = (
    "entrega", "troca", "pagamento", "reembolso", "duvida", "reclamacao", "vip", "cancelamento", "atacado",
    "nota-fiscal", "garantia", "cupom", "primeira-compra", "recorrente", "instagram", "procon", "fraude", "b2b",
)  # fmt: skip
TEAMS = (
    ("Atendimento", "round_robin"), ("Financeiro", "manual"), ("Trocas e devoluções", "manual"),
    ("Logística", "manual"), ("Vendas", "least_load"), ("Pós-venda", "manual"),
)  # fmt: skip
EXTRA_STAGES = (("Aguardando pagamento", "waiting"), ("Escalado", "open"))

_ACCENTS = str.maketrans("áàâãéêíóôõúüçÁÀÂÃÉÊÍÓÔÕÚÜÇ", "aaaaeeiooouucAAAAEEIOOOUUC")
_ABBREVIATIONS = {
    "você": "vc", "vocês": "vcs", "porque": "pq", "também": "tb", "está": "tá", "estou": "to", "não": "ñ",
    "por favor": "pfv", "obrigado": "obg", "obrigada": "obg", "quando": "qdo", "hoje": "hj", "muito": "mto",
    "que": "q", "para": "pra", "mensagem": "msg", "agora": "agr", "tudo": "td", "beleza": "blz", "dias": "d",
}  # fmt: skip
_ABBREVIATE = re.compile(r"\b(" + "|".join(sorted(_ABBREVIATIONS, key=len, reverse=True)) + r")\b")


def _abbreviated(text: str) -> str:
    return _ABBREVIATE.sub(lambda m: _ABBREVIATIONS[m.group(1)], text)


def _variants(template: str) -> list[str]:
    """How customers type it: as written, accents dropped, abbreviated, both; lower case, no final mark."""
    plain = template.translate(_ACCENTS)
    short = _abbreviated(template)
    return [template, plain, short, short.translate(_ACCENTS).lower().rstrip("?!.")]


CUSTOMER_STYLE = list(itertools.accumulate((0.35, 0.3, 0.15, 0.2)))
STAFF_STYLE = list(itertools.accumulate((0.92, 0.08, 0.0, 0.0)))


def _zipf(count: int, exponent: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(count)))


@dataclass(frozen=True)
class Pool:
    """Templates (each with its typing variants) and their Zipf weights."""

    texts: list[list[str]]
    weights: list[float]

    @classmethod
    def of(cls, templates: list[str], exponent: float = 0.9) -> Pool:
        for template in templates:
            assert "\t" not in template and "\n" not in template and "\\" not in template
        return cls([_variants(t) for t in templates], _zipf(len(templates), exponent))

    def pick(self, rng: random.Random, style: list[float]) -> str:
        variants = rng.choices(self.texts, cum_weights=self.weights)[0]
        return rng.choices(variants, cum_weights=style)[0]


POOLS = {
    "greeting": Pool.of(GREETINGS),
    "short_in": Pool.of(SHORT_IN),
    "short_out": Pool.of(SHORT_OUT),
    "agent": Pool.of(AGENT_OUT, 0.5),
    "note": Pool.of(NOTES_OUT),
    **{f"in:{name}": Pool.of(templates, 0.8) for name, templates in TOPICS_IN.items()},
    **{f"out:{name}": Pool.of(templates, 0.6) for name, templates in TOPICS_OUT.items()},
}
TOPIC_WEIGHTS = _zipf(len(TOPIC_NAMES), 0.8)
_WEIGHTS: dict[tuple[int, float], list[float]] = {}


def zipf_pick(rng: random.Random, items: list[Any] | tuple[Any, ...], exponent: float = 1.0) -> Any:
    weights = _WEIGHTS.get((id(items), exponent))
    if weights is None:
        weights = _WEIGHTS[(id(items), exponent)] = _zipf(len(items), exponent)
    return rng.choices(items, cum_weights=weights)[0]


class Slots(dict):
    """A conversation's slot values, drawn once and then repeated (the same order number all along)."""

    def __init__(self, rng: random.Random, order: int, customer: str, attendant: str) -> None:
        super().__init__(pedido=str(order), cliente=customer, atendente=attendant)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        rng = self.rng
        name = key.rstrip("0123456789")
        if name == "valor":
            price = zipf_pick(rng, PRECOS)
            cents = rng.choice(("90", "99", "00", "50"))
            value = rng.choice((f"R$ {price},{cents}", f"R$ {price},{cents}", f"{price},{cents}", f"{price} reais"))
        elif name == "rastreio":
            value = f"{rng.choice(('BR', 'NX', 'QB', 'OY'))}{rng.randrange(10**8, 10**9)}BR"
        elif name == "pix":
            value = "00020126580014br.gov.bcb.pix0136" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
        elif name == "cpf":
            digits = f"{rng.randrange(10**10, 10**11):011d}"
            value = f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
        elif name in ("n", "num", "parcelas"):
            value = str(rng.randint(2, 12) if name != "num" else rng.randint(10, 3000))
        else:
            value = zipf_pick(rng, LISTS[name])
        self[key] = value
        return value


LISTS: dict[str, list[str]] = {
    "produto": PRODUTOS,
    "cidade": CIDADES,
    "cor": CORES,
    "tamanho": TAMANHOS,
    "banco": BANCOS,
    "cupom": CUPONS,
    "loja": LOJAS,
    "rua": RUAS,
    "bairro": BAIRROS,
    "erro": ERROS,
    "data": DATAS,
}

# --- the organizations ---------------------------------------------------------------------------------


@dataclass
class Person:
    user_id: uuid.UUID
    first_name: str
    team_id: uuid.UUID


@dataclass
class Org:
    id: uuid.UUID
    slug: str
    conversations: int
    messages: int
    people: list[Person] = field(default_factory=list)
    teams: dict[str, uuid.UUID] = field(default_factory=dict)
    stages: dict[str, uuid.UUID] = field(default_factory=dict)
    """Stage name -> id: Novo, Em atendimento, Aguardando cliente, Aguardando pagamento, Escalado, Resolvido."""
    channels: dict[str, uuid.UUID] = field(default_factory=dict)
    """``whatsapp``, ``webchat``, ``instagram`` -> id."""
    contacts: int = 0
    open_contacts: list[tuple[str, uuid.UUID]] = field(default_factory=list)
    """WhatsApp phones of contacts whose last conversation is open, with that conversation."""
    long_sizes: tuple[int, ...] = ()
    """Messages of its longest conversations (the big organization's)."""
    long_threads: dict[int, uuid.UUID] = field(default_factory=dict)
    """Their ids by size."""
    typical_thread: uuid.UUID | None = None


async def provision(kernel: Any, index: int, people: int, *, small: bool) -> Org:
    """An organization through the tenancy service, and its people, teams, stages and channels."""
    from sqlalchemy import select, text

    from kernel.auth.models import User
    from kernel.rbac.models import Role
    from kernel.sdk import tenant_session
    from kernel.tenancy.services import provision_organization
    from plugins.inbox.demo import ensure_webchat, new_public_key
    from plugins.inbox.models import Channel, Stage
    from plugins.inbox.stages import StageService
    from plugins.inbox.teams import TeamService

    slug = f"loja-{index:02d}"
    async with kernel.db.session() as session:
        made = await provision_organization(
            kernel,
            session,
            slug=slug,
            name=f"Loja {index:02d}",
            admin_email=f"admin@{slug}.example",
            admin_password=secrets.token_hex(8),
            language="pt-BR",
        )
        await session.commit()
    org = Org(made.tenant_id, slug, 0, 0)
    rng = random.Random(index)
    async with tenant_session(org.id) as session:
        role = (await session.execute(select(Role).where(Role.key == "operator"))).scalar_one()
        teams = TeamService(session)
        team_defs = TEAMS[:1] if small else TEAMS
        for name, assignment in team_defs:
            org.teams[name] = (await teams.create(name, assignment=assignment, capacity=100)).id
        team_ids = list(org.teams.values())
        for number in range(people):
            first = FIRST_NAMES[(number * 7 + index) % len(FIRST_NAMES)]
            user = User(
                tenant_id=org.id,
                role_id=role.id,
                email=f"{first.lower().translate(_ACCENTS)}.{number}@{slug}.example",
                name=f"{first} {rng.choice(LAST_NAMES)}",
                password_hash=None,
                is_platform_admin=False,
                is_active=True,
                token_version=0,
            )
            session.add(user)
            await session.flush()
            # Half the people in the first team (the one that takes WhatsApp), the rest spread over the others.
            team_id = (
                team_ids[0] if number % 2 == 0 or len(team_ids) == 1 else team_ids[1 + number % (len(team_ids) - 1)]
            )
            await teams.add_member(team_id, user.id)
            org.people.append(Person(user.id, first, team_id))
        stages = StageService(session)
        if not small:
            for name, kind in EXTRA_STAGES:
                await stages.create(name, kind)
        org.stages = {stage.name: stage.id for stage in (await session.execute(select(Stage))).scalars()}
        org.channels["webchat"] = (await ensure_webchat(session)).id
        for kind, name, team, agent in (
            ("whatsapp", "WhatsApp (11) 4002-8922", team_ids[0], None),
            ("instagram", "Instagram @loja", None, AGENT_ID),
        ):
            channel = Channel(
                kind=kind,
                name=name,
                active=True,
                public_key=new_public_key(),
                settings={},
                team_id=team,
                agent_id=agent,
            )
            session.add(channel)
            await session.flush()
            org.channels[kind] = channel.id
        # Always open: the out-of-hours reply would otherwise depend on the hour the bench runs.
        await session.execute(
            text(
                "UPDATE tenant_plugins SET settings = settings || CAST(:values AS jsonb) "
                "WHERE plugin = 'inbox' AND tenant_id = :tenant"
            ),
            {"values": json.dumps({"business_hours": {"always_open": True}}), "tenant": org.id},
        )
        await session.commit()
    return org


# --- generating the history -------------------------------------------------------------------------------

HOURS = list(
    itertools.accumulate((1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 3, 6, 9, 10, 10, 8, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2))
)
"""Conversations started per local hour (São Paulo, UTC-3)."""


def uuid7(rng: random.Random, at: float) -> uuid.UUID:
    """A UUIDv7 for the moment ``at`` (what the application's keys are)."""
    ms = int(at * 1000)
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    return uuid.UUID(int=value)


def ts(at: float | None) -> str:
    return "\\N" if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def phone_of(index: int) -> str:
    """A Brazilian mobile in E.164, distinct for each index below 10**8."""
    ddd = (11, 11, 11, 21, 21, 31, 41, 51, 61, 71, 81, 85, 19, 48, 27, 62)[index % 16]
    return f"+55{ddd}9{(index * 48271 + 12345) % 10**8:08d}"


@dataclass
class Start:
    at: float
    contact: int
    long: int = 0


def starts(rng: random.Random, count: int, now: float) -> list[float]:
    """Conversation start times over two years: busier as months go by (1:3), and in business hours."""
    span = SPAN_DAYS * 86400
    out = []
    for _ in range(count):
        fraction = (-1 + math.sqrt(1 + 8 * rng.random())) / 2  # density 0.5 + x on [0, 1]
        day = math.floor((now - span + fraction * span - 3 * 3600) / 86400)
        hour = rng.choices(range(24), cum_weights=HOURS)[0]
        out.append(min(now - 60, day * 86400 + (hour + 3) * 3600 + rng.random() * 3600))
    out.sort()
    return out


def message_counts(rng: random.Random, count: int, total: int) -> list[int]:
    """Messages per conversation: 1 and up, a long tail, adding up to ``total``."""
    mean = total / count
    counts = [1 + int(rng.expovariate(1 / max(0.01, mean - 1))) for _ in range(count)]
    diff = total - sum(counts)
    while diff:
        index = rng.randrange(count)
        if diff > 0:
            counts[index] += 1
            diff -= 1
        elif counts[index] > 1:
            counts[index] -= 1
            diff += 1
    return counts


class Writer:
    """Rows in COPY text format, handed to a COPY in large writes."""

    def __init__(self, copy: Any) -> None:
        self.copy = copy
        self.lines: list[str] = []
        self.size = 0
        self.rows = 0

    async def row(self, *values: Any) -> None:
        line = "\t".join("\\N" if v is None else str(v) for v in values) + "\n"
        self.lines.append(line)
        self.size += len(line)
        self.rows += 1
        if self.size > 1 << 21:
            await self.flush()

    async def flush(self) -> None:
        if self.lines:
            await self.copy.write("".join(self.lines).encode())
            self.lines, self.size = [], 0


@dataclass
class Conv:
    """A generated conversation's row, before its number (numbers follow the final start times)."""

    values: list[Any]
    created: float


async def copy_history(conn: Any, org: Org, rng: random.Random, now: float) -> tuple[int, int, int]:
    """The organization's contacts, identities, conversations (COPY) and messages (COPY to staging)."""
    conversations = org.conversations
    long_threads = org.long_sizes
    counts = message_counts(rng, conversations - len(long_threads), org.messages - sum(long_threads))
    times = starts(rng, conversations - len(long_threads), now)
    plans = [Start(at, -1) for at in times]
    for size in long_threads:
        plans.append(Start(now - rng.uniform(120, 300) * 86400, -1, size))
    plans.sort(key=lambda p: p.at)
    # Contacts: most conversations start with someone new, the others with someone who wrote before.
    contacts: list[tuple[float, str]] = []  # (first seen, channel)
    last_of: dict[int, int] = {}
    for index, plan in enumerate(plans):
        if plan.long or not contacts or rng.random() < 0.62:
            kind = rng.choices(("whatsapp", "webchat", "instagram"), cum_weights=(85, 95, 100))[0]
            contacts.append((plan.at, "whatsapp" if plan.long else kind))
            plan.contact = len(contacts) - 1
        else:
            plan.contact = rng.randrange(len(contacts))
        last_of[plan.contact] = index
    contact_rows = await _copy_contacts(conn, org, rng, contacts, now)
    org.contacts = len(contacts)

    count_iter = iter(counts)
    rows: list[Conv] = []
    async with (
        conn.cursor() as cur,
        cur.copy(
            "COPY bench_seed.messages (tenant_id, conversation_id, channel_id, direction, sender_kind, sender_user_id, "
            "sender_agent_id, kind, body, media, private, status, provider_message_id, created_at) FROM STDIN"
        ) as copy,
    ):
        out = Writer(copy)
        for index, plan in enumerate(plans):
            contact_id, identity_id, name, phone = contact_rows[plan.contact]
            kind = contacts[plan.contact][1]
            size = plan.long or next(count_iter)
            conv = await _conversation(
                out, org, rng, now, plan, size, kind, contact_id, identity_id, name, last_of[plan.contact] == index
            )
            rows.append(conv)
            if conv.values[6] is None and kind == "whatsapp" and not plan.long:
                org.open_contacts.append((phone, conv.values[0]))
            if plan.long:
                org.long_threads[plan.long] = conv.values[0]
            elif size == 10 and org.typical_thread is None and plan.at > now - 30 * 86400:
                org.typical_thread = conv.values[0]
        await out.flush()
        messages = out.rows
    rows.sort(key=lambda c: c.created)
    async with (
        conn.cursor() as cur,
        cur.copy(
            "COPY inbox_conversations (id, tenant_id, number, channel_id, contact_id, identity_id, stage_id, owner_kind, "
            "owner_user_id, owner_agent_id, team_id, ai_paused, priority, tags, subject, snoozed_until, unread_count, "
            "message_count, last_message_at, last_message_preview, last_inbound_at, first_response_at, waiting_since, "
            "wait_alerted_at, resolved_at, csat_score, csat_comment, summary, created_at, updated_at) FROM STDIN"
        ) as copy,
    ):
        out = Writer(copy)
        for number, conv in enumerate(rows, start=1):
            v = conv.values
            await out.row(v[0], org.id, number, *v[1:5], *v[7:])
        await out.flush()
    await conn.execute(
        "INSERT INTO inbox_conversation_counters (id, tenant_id, last_number, created_at, updated_at) "
        "VALUES (gen_random_uuid(), %s, %s, now(), now())",
        (org.id, len(rows)),
    )
    return len(contacts), len(rows), messages


async def _copy_contacts(
    conn: Any, org: Org, rng: random.Random, contacts: list[tuple[float, str]], now: float
) -> list[tuple[uuid.UUID, uuid.UUID, str, str]]:
    made = []
    identities = []
    async with conn.cursor() as cur:
        async with cur.copy(
            "COPY inbox_contacts (id, tenant_id, name, phones, emails, tags, attributes, last_seen_at, created_at, "
            "updated_at) FROM STDIN"
        ) as copy:
            out = Writer(copy)
            base = rng.randrange(10**6) * 100
            for index, (at, kind) in enumerate(contacts):
                first, last = zipf_pick(rng, FIRST_NAMES, 0.6), zipf_pick(rng, LAST_NAMES, 0.6)
                name = f"{first} {last}" if rng.random() < 0.8 else first.lower()
                phone = phone_of(base + index)
                has_phone = kind == "whatsapp" or rng.random() < 0.3
                email = f"{first}.{last}{rng.randrange(100)}@gmail.com".lower().translate(_ACCENTS)
                contact_id = uuid7(rng, at - 1)
                when = ts(at - 1)
                await out.row(
                    contact_id,
                    org.id,
                    name,
                    "{" + phone + "}" if has_phone else "{}",
                    "{" + email + "}" if rng.random() < 0.3 else "{}",
                    "{vip}" if rng.random() < 0.02 else "{}",
                    "{}",
                    when,
                    when,
                    when,
                )
                address = {"whatsapp": phone, "webchat": f"v-{contact_id.hex}", "instagram": f"ig:{base + index}"}
                identities.append((uuid7(rng, at - 1), contact_id, kind, address[kind], name, when))
                made.append((contact_id, identities[-1][0], first, phone))
            await out.flush()
        async with cur.copy(
            "COPY inbox_contact_identities (id, tenant_id, contact_id, kind, address, display, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            out = Writer(copy)
            for identity_id, contact_id, kind, address, name, when in identities:
                await out.row(identity_id, org.id, contact_id, kind, address, name, when, when)
            await out.flush()
    return made


def _gap(rng: random.Random, before: str, after: str, agent: bool) -> float:
    """Seconds between two messages: typing bursts, replies in minutes, now and then hours or a day."""
    roll = rng.random()
    if roll < 0.005:
        return rng.expovariate(1 / 86400) + 3600
    if roll < 0.035:
        return rng.expovariate(1 / 10800) + 600
    if before == "in" and after == "out":
        return 3 + rng.random() * 5 if agent else 10 + rng.expovariate(1 / 180)
    if before == after:
        return 3 + rng.expovariate(1 / 40)
    return 5 + rng.expovariate(1 / 300)


async def _conversation(
    out: Writer,
    org: Org,
    rng: random.Random,
    now: float,
    plan: Start,
    size: int,
    kind: str,
    contact_id: uuid.UUID,
    identity_id: uuid.UUID,
    customer: str,
    latest: bool,
) -> Conv:
    """One conversation's messages (written to the staging COPY) and its row."""
    channel_id = org.channels[kind]
    age = now - plan.at
    chance = 0.6 if age < 2 * 86400 else 0.05 if age < 30 * 86400 else 0.002
    is_open = bool(plan.long) or (latest and rng.random() < chance)
    person = zipf_pick(rng, org.people, 0.8)
    if kind == "instagram" and not (is_open and rng.random() < 0.5):
        owner_kind = "agent"
    elif is_open:
        owner_kind = "person" if plan.long else rng.choices(("person", "team", "none"), cum_weights=(65, 85, 100))[0]
    else:
        owner_kind = "person" if rng.random() < 0.95 else "team"
    answered = owner_kind in ("person", "agent")
    topic = rng.choices(TOPIC_NAMES, cum_weights=TOPIC_WEIGHTS)[0]
    slots = Slots(rng, 1_000_000 + rng.randrange(9_000_000), customer, person.first_name)
    spread = (now - plan.at) * 0.9 / size if plan.long else 0.0
    csat = not is_open and answered and size >= 4 and rng.random() < 0.3
    conversation_id = uuid7(rng, plan.at)
    t = plan.at
    direction = "in"
    lines: list[tuple[Any, ...]] = []
    last_in = first_out = waiting = None
    unread = 0
    for index in range(size):
        if index:
            previous = direction
            if not answered:
                direction = "in"
            elif direction == "in":
                direction = "in" if rng.random() < 0.4 else "out"
            else:
                direction = "out" if rng.random() < 0.3 else "in"
            t += rng.expovariate(1 / spread) if spread else _gap(rng, previous, direction, owner_kind == "agent")
        sender_kind, user_id, agent_id, private, status = "contact", None, None, "f", "received"
        media = None
        message_kind = "text"
        if csat and index >= size - 2:  # the rating request and its answer close the conversation
            if index == size - 2:
                direction, sender_kind, body, status = "out", "system", CSAT_QUESTION, "read"
            else:
                direction, body = "in", rng.choices("54321", cum_weights=(50, 75, 85, 92, 100))[0]
        elif direction == "in":
            roll = rng.random()
            if index == 0 and roll < 0.45:
                body = POOLS["greeting"].pick(rng, CUSTOMER_STYLE)
            elif roll < 0.3:
                body = POOLS["short_in"].pick(rng, CUSTOMER_STYLE)
            else:
                body = POOLS[f"in:{topic}"].pick(rng, CUSTOMER_STYLE).format_map(slots)
            media_roll = rng.random()
            if media_roll < 0.08:
                message_kind = ("image", "audio", "document")[
                    0 if media_roll < 0.035 else 1 if media_roll < 0.075 else 2
                ]
                ext = {"image": "jpg", "audio": "ogg", "document": "pdf"}[message_kind]
                media = json.dumps(
                    {
                        "key": f"t/{org.id}/inbox/{rng.getrandbits(64):016x}.{ext}",
                        "content_type": {"jpg": "image/jpeg", "ogg": "audio/ogg", "pdf": "application/pdf"}[ext],
                        "size": rng.randrange(20_000, 2_000_000),
                    }
                )
                body = "" if message_kind == "audio" or rng.random() < 0.5 else body
        else:
            status = rng.choices(("read", "delivered", "sent", "failed"), cum_weights=(70, 90, 98, 100))[0]
            if owner_kind == "agent" or (index == 1 and kind == "instagram"):
                sender_kind, agent_id = "agent", AGENT_ID
                pool = "agent" if rng.random() < 0.4 else f"out:{topic}"
                body = POOLS[pool].pick(rng, STAFF_STYLE).format_map(slots)
            else:
                sender_kind, user_id = "person", person.user_id
                if rng.random() < 0.02:
                    private, status = "t", "note"
                    body = POOLS["note"].pick(rng, STAFF_STYLE).format_map(slots)
                else:
                    pool = "short_out" if rng.random() < 0.4 else f"out:{topic}"
                    body = POOLS[pool].pick(rng, STAFF_STYLE).format_map(slots)
        lines.append((direction, sender_kind, user_id, agent_id, message_kind, body, media, private, status, t))
    if t > now - 1:  # the latest conversations: their last message a moment before now
        shift = t - (now - 1 - rng.random() * 600)
        lines = [(*line[:-1], line[-1] - shift) for line in lines]
    provider = itertools.count(rng.getrandbits(40))
    for direction, sender_kind, user_id, agent_id, message_kind, body, media, private, status, at in lines:
        provider_id = None
        if direction == "in" or (status in ("sent", "delivered", "read") and sender_kind != "system"):
            provider_id = (
                f"wamid.HBgN{next(provider):012X}{rng.getrandbits(48):012X}"
                if kind == "whatsapp"
                else f"m-{next(provider):x}"
            )
        await out.row(
            org.id, conversation_id, channel_id, direction, sender_kind, user_id, agent_id, message_kind, body, media,
            private, status, provider_id, f"{at:.6f}",
        )  # fmt: skip
        if direction == "in":
            last_in = at
            unread += 1
            if waiting is None:
                waiting = at
        elif private == "f":
            unread = 0
            waiting = None
            if first_out is None and sender_kind != "system":
                first_out = at
    first_at, last_at = lines[0][-1], lines[-1][-1]
    last_body, last_kind = next((line[5], line[4]) for line in reversed(lines) if line[7] == "f")
    preview = " ".join(last_body.split())[:200] if last_body else f"[{last_kind}]"
    resolved = None if is_open else last_at + rng.uniform(60, 7200)
    if is_open:
        if not answered:
            stage = "Novo"
        elif plan.long or waiting is not None:
            stage = "Escalado" if topic == "reclamacao" and rng.random() < 0.5 else "Em atendimento"
        else:
            stage = "Aguardando pagamento" if topic == "pagamento" else "Aguardando cliente"
    else:
        stage = "Resolvido"
        waiting = None
        unread = 0
    stage_id = org.stages.get(stage) or org.stages["Em atendimento"]
    team_id = person.team_id if owner_kind in ("person", "team") else None
    tags = {zipf_pick(rng, TAGS, 1.1) for _ in range(rng.choices((0, 1, 2, 3), cum_weights=(40, 80, 95, 100))[0])}
    if kind == "instagram":
        tags.add("instagram")
    snoozed = now + rng.uniform(3600, 48 * 3600) if is_open and rng.random() < 0.02 else None
    values = [
        conversation_id,
        channel_id,
        contact_id,
        identity_id,
        stage_id,
        owner_kind,
        None if is_open else resolved,  # [6]: None while open (read by the caller)
        owner_kind,
        person.user_id if owner_kind == "person" else None,
        AGENT_ID if owner_kind == "agent" else None,
        team_id,
        "t" if owner_kind == "person" and rng.random() < 0.05 else "f",
        rng.choices(("normal", "high", "low", "urgent"), cum_weights=(80, 92, 97, 100))[0],
        "{" + ",".join(sorted(tags)) + "}",
        "",
        ts(snoozed),
        unread,
        len(lines),
        ts(last_at),
        preview,
        ts(last_in),
        ts(first_out),
        ts(waiting),
        None,
        ts(resolved),
        rng.choices((5, 4, 3, 2, 1), cum_weights=(50, 75, 85, 92, 100))[0] if csat else None,
        None,
        "",
        ts(first_at),
        ts(last_at),
    ]
    return Conv(values, first_at)


# --- loading ---------------------------------------------------------------------------------------------

STAGING = """
CREATE SCHEMA bench_seed;
CREATE UNLOGGED TABLE bench_seed.messages (
    tenant_id uuid, conversation_id uuid, channel_id uuid, direction text, sender_kind text, sender_user_id uuid,
    sender_agent_id uuid, kind text, body text, media jsonb, private bool, status text, provider_message_id text,
    created_at double precision
);
"""

# In time order, as a live inbox writes them: a thread's messages lie among the others of their hours.
LOAD_MESSAGES = """
INSERT INTO inbox_messages (id, tenant_id, conversation_id, channel_id, direction, sender_kind, sender_user_id,
    sender_agent_id, kind, body, media, payload, private, status, provider_message_id, sent_at, delivered_at, read_at,
    attempts, created_at, updated_at)
SELECT uuidv7(to_timestamp(s.created_at) - clock_timestamp()), s.tenant_id, s.conversation_id, s.channel_id,
    s.direction, s.sender_kind, s.sender_user_id, s.sender_agent_id, s.kind, s.body, s.media,
    CASE WHEN s.sender_kind = 'system' THEN '{"auto": "csat"}'::jsonb ELSE '{}'::jsonb END, s.private, s.status,
    s.provider_message_id,
    CASE WHEN s.status IN ('received', 'sent', 'delivered', 'read') THEN to_timestamp(s.created_at) END,
    CASE WHEN s.status IN ('delivered', 'read') THEN to_timestamp(s.created_at + 2) END,
    CASE WHEN s.status = 'read' THEN to_timestamp(s.created_at + 40) END,
    CASE WHEN s.direction = 'out' AND NOT s.private THEN 1 ELSE 0 END,
    to_timestamp(s.created_at), to_timestamp(s.created_at)
FROM bench_seed.messages s
WHERE s.created_at >= %(low)s AND s.created_at < %(high)s
ORDER BY s.created_at
"""

MESSAGE_INDEXES = (
    "ix_inbox_messages_tenant_id",
    "ix_inbox_messages_conversation",
    "ix_inbox_messages_provider",
    "ix_inbox_messages_tsv",
)
CHECKS = {
    "messages without their conversation": (
        "SELECT count(*) FROM inbox_messages m WHERE NOT EXISTS "
        "(SELECT 1 FROM inbox_conversations c WHERE c.id = m.conversation_id AND c.tenant_id = m.tenant_id)"
    ),
    "conversations whose message_count is off": (
        "SELECT count(*) FROM inbox_conversations c JOIN (SELECT conversation_id, count(*) AS n FROM inbox_messages "
        "GROUP BY 1) m ON m.conversation_id = c.id WHERE m.n <> c.message_count"
    ),
}


async def load(kernel: Any, orgs: list[Org], seeding: Seeding, seed: int, now: float) -> dict[str, int]:
    """The history in bulk as the owner (foreign keys are checked once at the end, not per row)."""
    conn = await owner_connection(kernel)
    totals = {"contacts": 0, "conversations": 0, "messages": 0}
    try:
        definitions = {}
        for name in MESSAGE_INDEXES:
            row = await (await conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,))).fetchone()
            definitions[name] = row[0]
            await conn.execute(f"DROP INDEX {name}")
        await conn.execute(STAGING)
        await conn.execute("SET session_replication_role = replica")
        rng = random.Random(seed)
        with seeding.step("generate texts, COPY contacts, conversations, messages to staging"):
            for org in orgs:
                contacts, conversations, messages = await copy_history(conn, org, rng, now)
                totals["contacts"] += contacts
                totals["conversations"] += conversations
                totals["messages"] += messages
                org.conversations, org.messages = conversations, messages
        with seeding.step("INSERT ... SELECT messages: ids, tsvector (2 connections)"):
            middle = (await (await conn.execute("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY created_at) "
                                                "FROM bench_seed.messages")).fetchone())[0]  # fmt: skip
            await _insert_messages(kernel, [(0.0, middle), (middle, now + 86400)])
        await conn.execute("DROP SCHEMA bench_seed CASCADE")
        await conn.execute("RESET session_replication_role")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        for name in MESSAGE_INDEXES:
            with seeding.step(f"CREATE INDEX {name}"):
                await conn.execute(definitions[name])
        await conn.execute("RESET maintenance_work_mem")
        with seeding.step("VACUUM ANALYZE"):
            await conn.execute("VACUUM ANALYZE")
        with seeding.step("check the references and counts"):
            for label, sql in CHECKS.items():
                found = (await (await conn.execute(sql)).fetchone())[0]
                if found:
                    raise RuntimeError(f"{found} {label}")
    finally:
        await conn.close()
    return totals


async def _insert_messages(kernel: Any, ranges: list[tuple[float, float]]) -> None:
    async def part(low: float, high: float) -> None:
        conn = await owner_connection(kernel)
        try:
            await conn.execute("SET session_replication_role = replica")
            await conn.execute("SET work_mem = '512MB'")
            await conn.execute(LOAD_MESSAGES, {"low": low, "high": high})
        finally:
            await conn.close()

    await asyncio.gather(*(part(low, high) for low, high in ranges))


# --- measuring -------------------------------------------------------------------------------------------


@dataclass
class Measured:
    samples: list[float]
    rows: int
    """What the call returned: the list's total, the thread's messages, the search's hits."""

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)


Call = Callable[[Any], Awaitable[int]]


@dataclass(frozen=True)
class Case:
    group: str
    label: str
    call: Call
    tenant: str = "big"


def cases(big: Org, small: Org, facts: dict[str, Any]) -> list[Case]:
    """What the board, the thread and the history search run, as the API calls them."""
    from plugins.inbox.search import search_history
    from plugins.inbox.services import ConversationFilters, InboxService, list_conversations

    def board(filters: ConversationFilters, offset: int = 0) -> Call:
        async def call(session: Any) -> int:
            _rows, total = await list_conversations(session, filters, limit=PAGE, offset=offset)
            return total

        return call

    def thread(conversation_id: uuid.UUID, after: datetime | None = None) -> Call:
        async def call(session: Any) -> int:
            return len(await InboxService(session).messages(conversation_id, after=after))

        return call

    def search(query: str, **filters: Any) -> Call:
        async def call(session: Any) -> int:
            return len(await search_history(session, query, **filters))

        return call

    now = datetime.now(UTC)
    month, quarter = now - timedelta(days=30), now - timedelta(days=90)
    mine, team, person = facts["mine"], facts["team"], facts["busiest_writer"]
    longest = max(big.long_threads)
    rare = facts["rare_order"]
    return [
        Case("board", "open list (default)", board(ConversationFilters())),
        Case(
            "board", "stage column: Em atendimento", board(ConversationFilters(stage_id=big.stages["Em atendimento"]))
        ),
        Case(
            "board",
            "stage column: Resolvido (status all)",
            board(ConversationFilters(stage_id=big.stages["Resolvido"], status="all")),
        ),
        Case("board", "mine (owner_user_id)", board(ConversationFilters(owner_user_id=mine))),
        Case("board", "team (Atendimento)", board(ConversationFilters(team_id=team))),
        Case("board", "tag: troca", board(ConversationFilters(tag="troca"))),
        Case("board", "waiting over 30 minutes", board(ConversationFilters(waiting_minutes=30))),
        Case("board", "resolved", board(ConversationFilters(status="resolved"))),
        Case("board", "open list, page 5", board(ConversationFilters(), offset=4 * PAGE)),
        Case("board", "resolved, page 5", board(ConversationFilters(status="resolved"), offset=4 * PAGE)),
        Case("board", "open list (default)", board(ConversationFilters()), "small"),
        Case("thread", f"newest 50 of the longest ({longest:,} messages)", thread(big.long_threads[longest])),
        Case("thread", "after= poll of the longest (2 new)", thread(big.long_threads[longest], facts["poll_after"])),
        Case("thread", "a 10-message conversation", thread(facts["typical_thread"])),
        Case("search", "common: pedido", search("pedido")),
        Case("search", "common: pedido, last 30 days", search("pedido", since=month)),
        Case("search", "common: pedido, tag reembolso", search("pedido", tag="reembolso")),
        Case("search", "common: pedido, by one person", search("pedido", user_id=person)),
        Case("search", "medium: estorno", search("estorno")),
        Case("search", "medium: estorno, last 90 days", search("estorno", since=quarter)),
        Case("search", "medium: estorno, tag troca", search("estorno", tag="troca")),
        Case("search", "rare: procon", search("procon")),
        Case("search", f"rare: an order number ({rare})", search(rare)),
        Case("search", "rare: an order number, last 30 days", search(rare, since=month)),
        Case("search", "accents: nao consigo pagar", search("nao consigo pagar")),
        Case("search", "accents: nao consigo pagar, last 30 days", search("nao consigo pagar", since=month)),
        Case("search", 'phrase: "não consigo pagar"', search('"não consigo pagar"')),
        Case("search", "common: pedido", search("pedido"), "small"),
    ]


async def measure(org: Org, case: Case, repeat: int) -> Measured:
    """``case`` in a tenant-scoped session per call, after a warm-up; at least 5 calls, ``repeat`` at most."""
    from kernel.sdk import tenant_session

    samples: list[float] = []
    rows = 0
    began = time.perf_counter()
    for index in range(WARMUP + repeat):
        async with tenant_session(org.id) as session:
            started = time.perf_counter()
            rows = await case.call(session)
            elapsed = time.perf_counter() - started
        if index >= WARMUP:
            samples.append(elapsed * 1000)
            if len(samples) >= 5 and time.perf_counter() - began > BUDGET:
                break
    return Measured(samples, rows)


# --- inbound to visible ----------------------------------------------------------------------------------


@dataclass
class Latency:
    receive: list[float] = field(default_factory=list)
    visible: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    missing: int = 0
    elapsed: float = 0.0


INBOUND_TEXTS = [
    "oi, meu pedido {n} ainda não chegou", "boa tarde, não consigo pagar o boleto", "quero trocar o tamanho",
    "vcs tem o tênis na cor preta?", "cadê meu reembolso??", "ok obrigado", "segue o comprovante",
]  # fmt: skip


async def deliver(org: Org, phone: str, name: str, body: str, result: Latency) -> None:
    """One WhatsApp message through ``receive``, committed; then the operator's list, in a new session."""
    from kernel.sdk import tenant_session
    from plugins.inbox.contacts import Identity
    from plugins.inbox.services import ConversationFilters, Inbound, InboxService, list_conversations

    started = time.perf_counter()
    receiving = RECEIVING.set(True)
    async with tenant_session(org.id) as session:
        message, _created = await InboxService(session).receive(
            Inbound(
                channel_id=org.channels["whatsapp"],
                identity=Identity("whatsapp", phone, name),
                provider_message_id=f"wamid.bench{secrets.token_hex(12)}",
                body=body,
                name=name,
                phone=phone,
            )
        )
        await session.commit()
    RECEIVING.reset(receiving)
    received = time.perf_counter()
    async with tenant_session(org.id) as session:
        rows, _total = await list_conversations(session, ConversationFilters(), limit=PAGE)
    shown = time.perf_counter()
    if not any(c.id == message.conversation_id and c.last_message_preview == body for c, _contact in rows):
        result.missing += 1
    result.receive.append((received - started) * 1000)
    result.visible.append((shown - received) * 1000)
    result.total.append((shown - started) * 1000)


def senders(org: Org, rng: random.Random, count: int, first: int) -> list[tuple[str, str, str]]:
    """(phone, name, body): new contacts and existing ones with an open conversation, alternately."""
    out = []
    for index in range(count):
        body = rng.choice(INBOUND_TEXTS).replace("{n}", str(rng.randrange(10**6, 10**7)))
        if index % 2 == 0:
            # DDD 98: no seeded contact has it, so this one is new.
            out.append((f"+55989{first + index:08d}", f"{rng.choice(FIRST_NAMES)} Bench", body))
        else:
            phone, _conversation = org.open_contacts[(first + index) % len(org.open_contacts)]
            out.append((phone, "", body))
    return out


RECEIVING: ContextVar[bool] = ContextVar("bench_receiving", default=False)
"""Set while ``deliver`` runs ``receive`` and its commit: the statements :class:`StatementTimes` times."""


@dataclass
class StatementTimes:
    """Time per SQL statement of ``receive`` (not the list that follows it)."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    text: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not RECEIVING.get():
            return
        key = _statement_key(statement)
        self.seconds[key].append(time.perf_counter() - conn.info.pop("bench_started", time.perf_counter()))
        self.text[key] = (statement, parameters)


def _statement_key(statement: str) -> str:
    """The statement without its column lists, so that two queries of one table stay apart."""
    flat = " ".join(statement.split())
    flat = re.sub(r"^SELECT (?!set_config|pg_advisory).*? FROM ", "SELECT ... FROM ", flat)
    flat = re.sub(r"^INSERT INTO (\w+) \(.*?\) VALUES", r"INSERT INTO \1 (...) VALUES", flat)
    flat = re.sub(r"^UPDATE (\w+) SET .*? WHERE", r"UPDATE \1 SET ... WHERE", flat)
    return flat[:150]


async def inbound_sequential(org: Org, rng: random.Random, times: StatementTimes, kernel: Any) -> dict[str, Latency]:
    from sqlalchemy import event

    engine = kernel.db.engine.sync_engine
    results = {"new contact": Latency(), "existing contact (open conversation)": Latency()}
    for phone, name, body in senders(org, rng, 6, 0):  # warm-up, not timed
        await deliver(org, phone, name, body, Latency())
    event.listen(engine, "before_cursor_execute", times.before)
    event.listen(engine, "after_cursor_execute", times.after)
    try:
        for index, (phone, name, body) in enumerate(senders(org, rng, 2 * INBOUND, 100)):
            key = "new contact" if index % 2 == 0 else "existing contact (open conversation)"
            began = time.perf_counter()
            await deliver(org, phone, name, body, results[key])
            results[key].elapsed += time.perf_counter() - began
    finally:
        event.remove(engine, "before_cursor_execute", times.before)
        event.remove(engine, "after_cursor_execute", times.after)
    return results


async def inbound_concurrent(org: Org, rng: random.Random) -> Latency:
    result = Latency()
    plans = [senders(org, rng, PER_SENDER, 1000 + sender * PER_SENDER) for sender in range(SENDERS)]

    async def sender(messages: list[tuple[str, str, str]]) -> None:
        for phone, name, body in messages:
            await deliver(org, phone, name, body, result)

    began = time.perf_counter()
    await asyncio.gather(*(sender(messages) for messages in plans))
    result.elapsed = time.perf_counter() - began
    return result


# --- query plans -----------------------------------------------------------------------------------------

NODE_RE = re.compile(
    r"^(?P<indent>\s*)(?:->\s+)?(?P<node>[A-Z][A-Za-z -]*?)(?: Backward)?(?: using (?P<index>\w+))?"
    r"(?: on (?P<rel>\w+)(?: (?P<alias>\w+))?)?\s+\(cost=[^)]*\)\s+\(actual time=[\d.]+\.\.(?P<time>[\d.]+) "
    r"rows=(?P<rows>[\d.]+) loops=(?P<loops>\d+)\)"
)
SCANS = (
    "Seq Scan",
    "Parallel Seq Scan",
    "Index Scan",
    "Index Only Scan",
    "Bitmap Heap Scan",
    "Parallel Bitmap Heap Scan",
)


@dataclass
class Node:
    depth: int
    kind: str
    index: str | None
    relation: str | None
    rows: float
    """Actual rows of all its loops."""
    loops: int
    details: list[str] = field(default_factory=list)


def parse_plan(text: str) -> list[Node]:
    nodes: list[Node] = []
    for line in text.splitlines():
        found = NODE_RE.match(line)
        if found:
            nodes.append(
                Node(
                    len(found.group("indent")),
                    found.group("node").strip(),
                    found.group("index"),
                    found.group("rel"),
                    float(found.group("rows")) * int(found.group("loops")),
                    int(found.group("loops")),
                )
            )
        elif line.lstrip().startswith(("Planning", "JIT:", "Execution Time")):
            break
        elif nodes and line.strip():
            nodes[-1].details.append(line.strip())
    return nodes


def _detail(node: Node, prefix: str) -> str | None:
    return next((d[len(prefix) :].strip() for d in node.details if d.startswith(prefix)), None)


def describe(text: str) -> str:
    """What a plan does, in words: the scans that read many rows, the sorts, the buffers."""
    nodes = parse_plan(text)
    if not nodes:
        return ""
    parts = []
    for position, node in enumerate(nodes):
        # EXPLAIN shows removed rows per loop, like the rows.
        filtered = float(_detail(node, "Rows Removed by Filter:") or 0) * node.loops
        rechecked = float(_detail(node, "Rows Removed by Index Recheck:") or 0) * node.loops
        if node.kind in SCANS and node.relation and (node.rows >= 500 or filtered + rechecked >= 500):
            if node.kind.endswith("Seq Scan"):
                how = "a sequential scan"
            elif "Bitmap" in node.kind:
                # "Bitmap Index Scan on <index>": the parser reads the index as the relation.
                child = next((n for n in nodes[position + 1 :] if n.kind == "Bitmap Index Scan"), None)
                how = f"a bitmap of `{child.relation}`" if child and child.relation else "a bitmap"
            else:
                how = f"`{node.index}`"
            sentence = f"reads {node.rows:,.0f} rows of `{node.relation}` through {how}"
            if node.loops > 1:
                sentence += f" ({node.loops:,} loops)"
            if rechecked:
                sentence += f", drops {rechecked:,.0f} on rechecking the index condition"
            if filtered:
                sentence += f", drops {filtered:,.0f} by its filter"
            blocks = _detail(node, "Heap Blocks:")
            if blocks:
                sentence += f" (heap blocks {blocks})"
            parts.append(sentence)
        if node.kind in ("Sort", "Incremental Sort") and position + 1 < len(nodes):
            method = _detail(node, "Sort Method:") or _detail(node, "Full-sort Groups:") or ""
            parts.append(f"sorts {nodes[position + 1].rows:,.0f} rows ({method.split('  ')[0] or node.kind})")
        if node.kind == "Hash" and node.rows >= 10_000:
            parts.append(f"hashes {node.rows:,.0f} rows")
    buffers = _detail(nodes[0], "Buffers:")
    if buffers:
        parts.append(f"buffers {buffers}")
    return "; ".join(parts)


@dataclass
class Plan:
    case: str
    statement: str
    text: str
    ms: float
    indexes: list[str]
    generic: bool
    steady_text: str
    steady_ms: float
    steady_indexes: list[str]
    jit: bool


def _name(statement: str) -> str:
    flat = " ".join(statement.split())
    if flat.startswith("SELECT count(*)"):
        return "count"
    if "ts_headline" in flat:
        return "search"
    if "FROM inbox_messages" in flat:
        return "thread"
    if "FROM inbox_conversations JOIN inbox_contacts" in flat:
        return "page"
    return f"`{_statement_key(statement)[:90]}`"


async def explain(org: Org, case: Case, kernel: Any) -> list[Plan]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement ``case`` runs, in its own transaction: as a first
    execution, and as the sixth execution of the prepared statement."""
    from sqlalchemy import event

    from kernel.sdk import tenant_session

    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.lstrip().startswith("SELECT set_config("):  # the transaction's settings
            captured.append((statement, parameters))

    engine = kernel.db.engine.sync_engine
    plans = []
    async with tenant_session(org.id) as session:
        event.listen(engine, "before_cursor_execute", capture)
        try:
            await case.call(session)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        label = case.label if case.tenant == "big" else f"{case.label} ({case.tenant} organization)"
        for statement, parameters in captured:
            plans.append(await _plan(raw, label, statement, parameters))
    return plans


async def _plan(raw: Any, label: str, statement: str, parameters: Any) -> Plan:
    rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(parameters or ()))
    text = "\n".join(row[0] for row in rows)
    ms, indexes = _plan_facts(text)
    generic, steady = await _steady_plan(raw, statement, parameters)
    steady_ms, steady_indexes = _plan_facts(steady)
    return Plan(label, _name(statement), text, ms, indexes, generic, steady, steady_ms, steady_indexes, "JIT:" in text)


async def explain_receive(org: Org, kernel: Any, times: StatementTimes) -> list[Plan]:
    """The slowest SELECTs of ``receive``, explained in a tenant transaction that is rolled back."""
    from sqlalchemy import text

    from kernel.sdk import tenant_session

    slow = sorted(
        (
            key
            for key in times.seconds
            if key.startswith("SELECT") and "pg_advisory" not in key and "set_config" not in key
        ),
        key=lambda k: -statistics.fmean(times.seconds[k]),
    )[:2]
    plans = []
    async with tenant_session(org.id) as session:
        await session.execute(text("SELECT 1"))  # begins the transaction: the tenant is set
        raw = (await (await session.connection()).get_raw_connection()).driver_connection
        for key in slow:
            statement, parameters = times.text[key]
            if statistics.fmean(times.seconds[key]) * 1000 >= 2:
                plans.append(await _plan(raw, "receive", statement, parameters))
        await session.rollback()
    return plans


# --- report ----------------------------------------------------------------------------------------------


async def database_facts(kernel: Any, big: Org) -> dict[str, Any]:
    conn = await owner_connection(kernel)
    try:

        async def one(sql: str, *args: Any) -> Any:
            return (await (await conn.execute(sql, args or None)).fetchone())[0]

        facts: dict[str, Any] = {"postgres": await one("SHOW server_version")}
        for setting in ("shared_buffers", "work_mem", "effective_cache_size", "jit", "random_page_cost"):
            facts[setting] = await one(f"SHOW {setting}")
        sizes = {}
        for table in ("inbox_messages", "inbox_conversations", "inbox_contacts", "inbox_contact_identities"):
            sizes[table] = (
                await one(f"SELECT reltuples::bigint FROM pg_class WHERE oid = '{table}'::regclass"),  # noqa: S608
                await one("SELECT pg_total_relation_size(%s::regclass)", table),
                await one("SELECT pg_relation_size(%s::regclass)", table),
                await one("SELECT pg_indexes_size(%s::regclass)", table),
            )
        facts["sizes"] = sizes
        rows = await (
            await conn.execute(
                "SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
                "WHERE indrelid IN ('inbox_messages'::regclass, 'inbox_conversations'::regclass) ORDER BY 1 DESC, 3 DESC"
            )
        ).fetchall()
        facts["indexes"] = [(table, name, size) for table, name, size in rows]
        counts = await (
            await conn.execute(
                "SELECT count(*) FILTER (WHERE resolved_at IS NULL), count(*) FILTER (WHERE resolved_at IS NULL AND "
                "waiting_since IS NOT NULL), count(*) FILTER (WHERE resolved_at IS NULL AND snoozed_until > now()) "
                "FROM inbox_conversations WHERE tenant_id = %s",
                (big.id,),
            )
        ).fetchone()
        facts["open"], facts["waiting"], facts["snoozed"] = counts
        facts["mine"], facts["mine_open"] = await (
            await conn.execute(
                "SELECT owner_user_id, count(*) FROM inbox_conversations WHERE tenant_id = %s AND resolved_at IS NULL "
                "AND owner_user_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
                (big.id,),
            )
        ).fetchone()
        facts["busiest_writer"] = await one(
            "SELECT sender_user_id FROM inbox_messages WHERE tenant_id = %s AND sender_user_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
            big.id,
        )
        facts["poll_after"] = await one(
            "SELECT created_at FROM inbox_messages WHERE conversation_id = %s ORDER BY created_at DESC OFFSET 2 LIMIT 1",
            big.long_threads[max(big.long_threads)],
        )
        facts["rare_order"] = await one(
            r"SELECT (regexp_match(body, '\m(\d{7})\M'))[1] FROM inbox_messages WHERE tenant_id = %s "
            r"AND body ~ '\mpedido \d{7}\M' LIMIT 1",
            big.id,
        )
        facts["typical_thread"] = big.typical_thread or await one(
            "SELECT id FROM inbox_conversations WHERE tenant_id = %s AND message_count = 10 LIMIT 1", big.id
        )
        facts["team"] = big.teams["Atendimento"]
        for term in ("pedido", "estorno", "procon"):
            facts[f"df_{term}"] = await one(
                "SELECT count(*) FROM inbox_messages WHERE tenant_id = %s AND tsv @@ to_tsquery('atendai_pt', %s)",
                big.id,
                term,
            )
        facts["df_accents"] = await one(
            "SELECT count(*) FROM inbox_messages WHERE tenant_id = %s AND "
            "tsv @@ websearch_to_tsquery('atendai_pt', 'nao consigo pagar')",
            big.id,
        )
        return facts
    finally:
        await conn.close()


def render(
    args: argparse.Namespace,
    orgs: list[Org],
    facts: dict[str, Any],
    seeding: Seeding,
    totals: dict[str, int],
    results: list[tuple[Case, Measured]],
    inbound: dict[str, Latency],
    receive_steps: list[tuple[str, float, int]],
    plans: list[Plan],
    labels: dict[str, str],
) -> str:
    big, small = orgs[0], orgs[1:]
    lines = [
        SECTION,
        "",
        f"`bench/inbox.py --conversations {args.conversations} --messages {args.messages} --repeat {args.repeat}`: "
        f"a private embedded PostgreSQL {facts['postgres']} on a temporary data directory (shared_buffers "
        f"{facts['shared_buffers']}, work_mem {facts['work_mem']}, effective_cache_size {facts['effective_cache_size']}, "
        f"random_page_cost {facts['random_page_cost']}, jit {facts['jit']}), {os.cpu_count()} cores, {memory_gib()}, "
        f"Python {platform.python_version()} (load average {facts['load_before']:.1f} before the measurements, "
        f"{facts['load_after']:.1f} after). {len(orgs)} organizations provisioned through the tenancy service, each "
        "with people, teams and channels made through the inbox's services (WhatsApp to a round-robin team, "
        "Instagram to an AI agent, the web chat; business hours always open). The big one has "
        f"{big.conversations:,} conversations, {big.messages:,} messages and {big.contacts:,} contacts over two "
        f"years, {PEOPLE} people in {len(TEAMS)} teams, 6 stages; {facts['open']:,} of its conversations are open "
        f"({facts['waiting']:,} waiting for a reply, {facts['snoozed']} snoozed), the longest has "
        f"{max(big.long_sizes):,} messages. The other {len(small)} have {min(o.conversations for o in small)} to "
        f"{max(o.conversations for o in small)} conversations ({sum(o.messages for o in small):,} messages in all). "
        "Texts are generated WhatsApp-style Portuguese (short, abbreviations, accents often dropped, order numbers, "
        f"tracking codes, money; Zipf-weighted templates and values): `pedido` is in {facts['df_pedido']:,} messages "
        f"of the big organization, `estorno` in {facts['df_estorno']:,}, `procon` in {facts['df_procon']:,}, "
        f"`nao consigo pagar` matches {facts['df_accents']:,}.",
        "",
        "| table | rows | table + TOAST + indexes | heap | indexes |",
        "|---|---|---|---|---|",
    ]
    for table, (rows, total, heap, indexes) in facts["sizes"].items():
        lines.append(f"| `{table}` | {rows:,} | {mb(total)} | {mb(heap)} | {mb(indexes)} |")
    lines += ["", "| index | size |", "|---|---|"]
    lines += [f"| `{name}` | {mb(size)} |" for _table, name, size in facts["indexes"]]
    lines += [
        "",
        f"Seeding ({totals['conversations']:,} conversations, {totals['messages']:,} messages) as the database "
        "owner: contacts, identities and conversations COPYed into their tables, messages COPYed into a staging "
        "table and moved by one INSERT ... SELECT per core in time order (computing the generated `tsv`), with "
        "foreign keys checked once at the end instead of per row; the message indexes dropped first and built after "
        "(maintenance_work_mem 1GB):",
        "",
        "| step | time |",
        "|---|---|",
    ]
    lines += [f"| {name} | {seconds:.1f} s |" for name, seconds in seeding.timings.items()]
    lines += [f"| **total** | **{sum(seeding.timings.values()):.1f} s** |", ""]
    lines += [
        f"Latency with a warm cache, each call in a tenant-scoped session of its own, {WARMUP} calls of warm-up (so "
        f"a pooled connection has reached its sixth execution) then up to {args.repeat} timed ones (at least 5, "
        f"within {BUDGET:.0f} s): the time of the service call, the transaction's `set_config` included. "
        f"`list_conversations` runs two statements (the count and the page of {PAGE}); the history search returns "
        "20 hits.",
        "",
        "| query | tenant | p50 | p95 | mean | rows |",
        "|---|---|---|---|---|---|",
    ]
    for case, measured in results:
        lines.append(
            f"| {case.group}: {case.label} | {labels[case.tenant]} | {measured.p50:.1f} ms | {measured.p95:.1f} ms "
            f"| {measured.mean:.1f} ms | {measured.rows:,} |"
        )
    lines += [
        "",
        f"Inbound to visible, on the big organization: `InboxService.receive` of a WhatsApp message and the commit "
        f"(receive), then the operator's list (the open list's first page, in a new session) showing that "
        f"conversation with the message as its preview (visible). {INBOUND} messages from new contacts (a new "
        f"conversation each, given by round robin to a member of the team) and {INBOUND} from existing contacts with "
        f"an open conversation, one at a time; then {SENDERS} senders at once, {PER_SENDER} messages each, half of "
        "them new contacts.",
        "",
        "| case | receive + commit p50 | p95 | list p50 | p95 | total p50 | p95 | not visible | messages/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, result in inbound.items():
        rate = len(result.total) / result.elapsed if result.elapsed else 0.0
        lines.append(
            f"| {label} | {statistics.median(result.receive):.1f} ms | {_p95(result.receive):.1f} ms "
            f"| {statistics.median(result.visible):.1f} ms | {_p95(result.visible):.1f} ms "
            f"| {statistics.median(result.total):.1f} ms | {_p95(result.total):.1f} ms | {result.missing} | {rate:.1f} |"
        )
    lines += ["", "Where the time of the one-at-a-time receives goes (statements by total time, mean per call):", ""]
    lines += ["| statement | calls | mean |", "|---|---|---|"]
    for key, mean_ms, calls in receive_steps[:8]:
        lines.append(f"| `{key.replace('|', '/')}` | {calls} | {mean_ms:.2f} ms |")
    lines += [
        "",
        "Query plans of the slow statements (p50 of their case at least 20 ms, and the slowest statements of "
        "`receive`), EXPLAIN (ANALYZE, BUFFERS) in the call's own transaction: as a first execution (a custom plan) "
        "and as the sixth execution of the prepared statement, which is what a pooled connection runs from then on "
        "(SQLAlchemy's asyncpg driver prepares every statement):",
        "",
    ]
    return "\n".join(lines + plan_lines(plans)) + "\n"


def plan_lines(plans: list[Plan]) -> list[str]:
    """The plans' table, and what they show in words."""

    def indexes(names: list[str]) -> str:
        return ", ".join(f"`{name}`" for name in names) or "no index"

    lines = ["| case | statement | first execution | time | 6th execution | time |", "|---|---|---|---|---|---|"]
    for plan in plans:
        kind = "generic plan" if plan.generic else "custom plan"
        lines.append(
            f"| {plan.case} | {plan.statement} | {indexes(plan.indexes)}{', JIT' if plan.jit else ''} "
            f"| {plan.ms:.1f} ms | {kind}: {indexes(plan.steady_indexes)} | {plan.steady_ms:.1f} ms |"
        )
    lines += ["", "What the plans show (first executions; the 6th where it is another plan):", ""]
    for plan in plans:
        sentence = describe(plan.text)
        line = f"- **{plan.case}** ({plan.statement}, {plan.ms:.0f} ms): {sentence or 'nothing that reads many rows'}."
        if plan.generic and (set(plan.steady_indexes) != set(plan.indexes) or plan.steady_ms > 2 * plan.ms):
            line += f" The 6th execution, a generic plan ({plan.steady_ms:.0f} ms): {describe(plan.steady_text)}."
        lines.append(line)
    return lines


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def write_section(section: str, path: Path = DOCS) -> None:
    """Replace the "Inbox" section of docs/performance.md (or add it at the end), keeping the hand-written
    notes that follow the ``NOTES`` marker in it."""
    text = path.read_text()
    start = text.find(SECTION + "\n")
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    following = text.find("\n## ", start + len(SECTION))
    end = following + 1 if following >= 0 else len(text)
    old = text[start:end]
    notes = old[old.find(NOTES) :].rstrip("\n") + "\n" if NOTES in old else ""
    rest = text[end:]
    path.write_text(text[:start] + section + ("\n" + notes if notes else "") + ("\n" + rest if rest else ""))


# --- main ------------------------------------------------------------------------------------------------


async def run(kernel: Any, args: argparse.Namespace, seeding: Seeding) -> str:
    seed = 20260201
    rng = random.Random(seed)
    with seeding.step(f"provision {SMALL_TENANTS + 1} organizations (tenancy and inbox services)"):
        orgs = [await provision(kernel, 0, PEOPLE, small=False)]
        for index in range(1, SMALL_TENANTS + 1):
            orgs.append(await provision(kernel, index, 3, small=True))
    orgs[0].conversations, orgs[0].messages = args.conversations, args.messages
    orgs[0].long_sizes = LONG_THREADS if args.conversations >= 100_000 else tuple(n // 10 for n in LONG_THREADS)
    for org in orgs[1:]:
        org.conversations = rng.randint(*SMALL_CONVERSATIONS)
        org.messages = org.conversations * SMALL_MESSAGES_PER_CONVERSATION
    totals = await load(kernel, orgs, seeding, seed, time.time())

    big = orgs[0]
    small = max(orgs[1:], key=lambda o: o.messages)
    facts = await database_facts(kernel, big)
    labels = {"big": f"big ({big.messages:,} messages)", "small": f"small ({small.messages:,})"}
    who = {"big": big, "small": small}
    facts["load_before"] = os.getloadavg()[0]

    results: list[tuple[Case, Measured]] = []
    print(f"\n{'query':<58} {'tenant':<22} {'p50':>9} {'p95':>9} {'mean':>9}  rows", flush=True)
    for case in cases(big, small, facts):
        measured = await measure(who[case.tenant], case, args.repeat)
        results.append((case, measured))
        print(
            f"{case.group + ': ' + case.label:<58} {labels[case.tenant]:<22} {measured.p50:7.1f}ms "
            f"{measured.p95:7.1f}ms {measured.mean:7.1f}ms  {measured.rows:,}",
            flush=True,
        )

    times = StatementTimes()
    inbound = await inbound_sequential(big, rng, times, kernel)
    inbound[f"{SENDERS} concurrent senders"] = await inbound_concurrent(big, rng)
    facts["load_after"] = os.getloadavg()[0]
    for label, result in inbound.items():
        print(
            f"inbound {label:<40} receive p50 {statistics.median(result.receive):6.1f} p95 {_p95(result.receive):6.1f}"
            f" | list p50 {statistics.median(result.visible):6.1f} p95 {_p95(result.visible):6.1f}"
            f" | total p50 {statistics.median(result.total):6.1f} p95 {_p95(result.total):6.1f} ms"
            f" | not visible {result.missing}",
            flush=True,
        )
    calls = INBOUND * 2
    receive_steps = sorted(
        ((key, sum(s) * 1000 / len(s), len(s)) for key, s in times.seconds.items()),
        key=lambda item: -item[1] * item[2],
    )
    print(f"\nstatements of {calls} receives and their commits, by total time:")
    for key, mean_ms, count in receive_steps[:12]:
        print(f"  {count:5d} x {mean_ms:7.2f} ms  {key}")

    plans: list[Plan] = []
    slow = [case for case, measured in results if measured.p50 >= 20]
    for case in slow:
        plans += await explain(who[case.tenant], case, kernel)
    plans += await explain_receive(big, kernel, times)
    for plan in plans:
        kind = "generic" if plan.generic else "custom"
        print(f"\n--- EXPLAIN {plan.case} / {plan.statement}, first execution ---\n{plan.text}")
        print(f"\n--- EXPLAIN {plan.case} / {plan.statement}, 6th execution ({kind} plan) ---\n{plan.steady_text}")
    await kernel.db.dispose()
    return render(args, orgs, facts, seeding, totals, results, inbound, receive_steps, plans, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=500_000, help="conversations of the big organization")
    parser.add_argument("--messages", type=int, default=5_000_000, help="messages of the big organization")
    parser.add_argument("--quick", action="store_true", help="20,000 conversations, 200,000 messages, docs untouched")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per query at most")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/performance.md as it is")
    parser.add_argument("--keep", metavar="DIR", help="put the data directory here (new) and keep it, to look into")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.messages, args.repeat, args.no_docs = 20_000, 200_000, 5, True

    from kernel.db.embedded import stop_embedded

    seeding = Seeding()
    with contextlib.ExitStack() as stack:
        if args.keep:
            data_dir = Path(args.keep).resolve()
            if data_dir.exists():
                parser.error(f"--keep {data_dir}: the directory exists; name a new one")
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="atendai-bench-")), "data")
        with seeding.step("start the embedded server, migrate"):
            kernel = start_database(data_dir)
        try:
            section = asyncio.run(run(kernel, args, seeding))
        finally:
            stop_embedded(data_dir)
    print("\n" + section)
    if not args.no_docs:
        write_section(section)
        print(f"updated {DOCS.relative_to(DOCS.parent.parent)}")


if __name__ == "__main__":
    main()
