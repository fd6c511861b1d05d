"""Offline summary: the customer's informative sentences in order, the team's promise, and whether they wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plugins.inbox.summary import MAX_POINT_LENGTH, Sender, Summary, Turn, summarize

START = datetime(2025, 3, 18, 9, 0, tzinfo=UTC)


def conversation(*turns: tuple[Sender, str]) -> list[Turn]:
    """Turns a minute apart, in the order given."""
    return [Turn(sender, text, START + timedelta(minutes=minute)) for minute, (sender, text) in enumerate(turns)]


def late_delivery() -> list[Turn]:
    return conversation(
        ("contact", "oi bom dia"),
        ("contact", "comprei um tenis no dia 10/03 e ate agora nao chegou"),
        ("contact", "pedido 48213"),
        ("agent", "Olá! Sou a assistente virtual da Loja Bela. Vou verificar com a transportadora, um momento."),
        ("contact", "ok"),
        ("contact", "ja faz 15 dias, se nao chegar ate sexta quero cancelar e receber o reembolso"),
        ("system", "Conversa transferida para a equipe Logística"),
        ("agent", "O pedido está em trânsito, previsão de entrega 22/03."),
        ("contact", "vc consegue me mandar o codigo de rastreio? pq no site nao aparece nada"),
        ("contact", "obrigada"),
    )


def boleto_not_cleared() -> list[Turn]:
    return conversation(
        ("contact", "boa tarde"),
        ("contact", "paguei o boleto ontem e no app ainda mostra pendente"),
        ("contact", "valor R$ 150,00"),
        ("contact", "tb tentei pagar no pix mas deu erro"),
        ("contact", "\U0001f64f\U0001f64f"),
        ("person", "Boa tarde, Joana! Vou verificar o pagamento."),
        ("person", "Pode me passar o CPF do titular?"),
        ("contact", "123.456.789-00"),
        ("contact", "pq demora tanto pra compensar??"),
    )


def charged_twice() -> list[Turn]:
    return conversation(
        ("contact", "Hi there"),
        ("contact", "I was charged twice for order #10457, $89.90 each time. Can you refund one of them?"),
        ("person", "Hello! Sorry about that. I'll check with our billing team and get back to you by tomorrow."),
        ("contact", "Thanks!"),
    )


# -- realistic conversations -----------------------------------------------------------------------


def test_a_late_delivery_is_briefed_with_the_customers_own_facts_in_order() -> None:
    summary = summarize(late_delivery())

    assert summary == Summary(
        key_points=[
            "comprei um tenis no dia 10/03 e ate agora nao chegou",
            "pedido 48213",
            "ja faz 15 dias, se nao chegar ate sexta quero cancelar e receber o reembolso",
            "O pedido está em trânsito, previsão de entrega 22/03.",
            "vc consegue me mandar o codigo de rastreio?",
        ],
        last_customer_message="obrigada",
        open_question=True,
        commitment=None,
    )


def test_a_payment_conversation_keeps_amount_document_and_error_and_the_promise() -> None:
    summary = summarize(boleto_not_cleared())

    assert summary.key_points == [
        "paguei o boleto ontem e no app ainda mostra pendente",
        "valor R$ 150,00",
        "tb tentei pagar no pix mas deu erro",
        "123.456.789-00",
        "pq demora tanto pra compensar??",
    ]
    assert summary.commitment == "Vou verificar o pagamento."
    assert summary.last_customer_message == "pq demora tanto pra compensar??"
    assert summary.open_question is True


def test_an_english_conversation_is_summarised_too() -> None:
    summary = summarize(charged_twice())

    assert summary.key_points == [
        "I was charged twice for order #10457, $89.90 each time.",
        "Can you refund one of them?",
    ]
    assert summary.commitment == "I'll check with our billing team and get back to you by tomorrow."
    assert summary.last_customer_message == "Thanks!"
    # "Thanks!" only acknowledges the reply; the customer's last real message asked something.
    assert summary.open_question is True


def test_a_spanish_complaint_is_understood() -> None:
    summary = summarize(
        conversation(
            ("contact", "hola buenas tardes"),
            ("contact", "no puedo pagar con tarjeta, me sale un error"),
            ("agent", "Voy a revisar tu cuenta ahora mismo."),
        )
    )

    assert summary.key_points == ["no puedo pagar con tarjeta, me sale un error"]
    assert summary.commitment == "Voy a revisar tu cuenta ahora mismo."
    assert summary.open_question is False


# -- what makes a key point ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["oi", "Oi, bom dia!", "boa noite", "obrigado!!", "obg", "vlw", "ok", "blz", "tudo bem?", "kkkkk", "\U0001f44d"],
)
def test_greetings_thanks_and_emoji_are_never_key_points(text: str) -> None:
    summary = summarize(conversation(("contact", text), ("contact", "o boleto venceu e nao consigo pagar")))

    assert summary.key_points == ["o boleto venceu e nao consigo pagar"]


def test_a_greeting_opening_a_message_is_left_out_of_its_key_point() -> None:
    summary = summarize(conversation(("contact", "Oi, bom dia, meu pedido 48213 veio com defeito")))

    assert summary.key_points == ["meu pedido 48213 veio com defeito"]


def test_a_conversation_of_greetings_has_no_key_points() -> None:
    summary = summarize(
        conversation(
            ("contact", "oi"),
            ("contact", "bom dia!!"),
            ("contact", "\U0001f60a\U0001f64f"),
            ("agent", "Olá! Como posso ajudar?"),
            ("contact", "obrigado"),
        )
    )

    assert summary.key_points == []
    assert summary.commitment is None
    assert summary.last_customer_message == "obrigado"


def test_chatty_sentences_lose_to_short_ones_with_facts() -> None:
    turns = conversation(
        (
            "contact",
            "entao gente eu queria muito entender melhor essa situacao toda que aconteceu comigo semana passada",
        ),
        ("contact", "o estorno de R$ 89,90 nao caiu"),
    )

    assert summarize(turns, limit=1).key_points == ["o estorno de R$ 89,90 nao caiu"]


@pytest.mark.parametrize(
    "fact",
    [
        "foi no dia 12/04",
        "meu email e joana.silva@example.com",
        "o codigo e BR123456789BR",
        "protocolo 2024031812",
        "custou 150 reais",
    ],
)
def test_amounts_dates_ids_and_emails_make_a_sentence_informative(fact: str) -> None:
    turns = conversation(("contact", "gostei muito da loja de voces sempre compro aqui"), ("contact", fact))

    assert summarize(turns, limit=1).key_points == [fact]


@pytest.mark.parametrize("trouble", ["Não consigo entrar", "nao consigo entrar", "NÃO CONSIGO ENTRAR"])
def test_accents_and_capitals_do_not_change_the_reading(trouble: str) -> None:
    chatty = "entao gente eu queria entender melhor essa situacao"
    turns = conversation(("contact", chatty), ("contact", trouble))

    # Four ordinary words lose to "não consigo", however it is written.
    assert summarize(turns, limit=1).key_points == [trouble]


def test_whatsapp_abbreviations_are_not_content() -> None:
    turns = conversation(("contact", "pq vc tb ta assim?"), ("contact", "vc q sabe, blz"), ("contact", "cade o pix"))

    assert summarize(turns).key_points == ["cade o pix"]


def test_near_duplicates_are_dropped_keeping_the_better_one() -> None:
    turns = conversation(
        ("contact", "meu pedido nao chegou"),
        ("contact", "o pedido ainda nao chegou!!"),
        ("contact", "Meu pedido não chegou"),
        ("contact", "quero o reembolso"),
    )

    assert summarize(turns).key_points == ["meu pedido nao chegou", "quero o reembolso"]


def test_the_key_points_are_in_the_order_they_were_said_not_by_score() -> None:
    turns = conversation(
        ("contact", "quero trocar o tamanho"),
        ("contact", "pedido 48213 de R$ 199,90 entregue dia 15/03 com defeito"),
    )

    assert summarize(turns).key_points == [
        "quero trocar o tamanho",
        "pedido 48213 de R$ 199,90 entregue dia 15/03 com defeito",
    ]


def test_turns_are_read_in_the_order_of_their_time() -> None:
    first = Turn("contact", "o boleto venceu ontem", START)
    second = Turn("contact", "preciso de um novo boleto com prazo", START + timedelta(minutes=1))

    assert summarize([second, first]).key_points == ["o boleto venceu ontem", "preciso de um novo boleto com prazo"]


def test_the_team_small_talk_is_never_a_key_point_but_its_facts_can_be() -> None:
    turns = conversation(
        ("agent", "Olá! Seja muito bem-vinda à nossa central de atendimento, estamos felizes em ajudar."),
        ("contact", "quero cancelar"),
        ("person", "Seu cancelamento foi registrado com o protocolo 99812345."),
    )

    assert summarize(turns).key_points == [
        "quero cancelar",
        "Seu cancelamento foi registrado com o protocolo 99812345.",
    ]


def test_the_customers_sentence_beats_the_teams_equal_one() -> None:
    turns = conversation(
        ("person", "o pedido 48213 foi entregue dia 15/03"),
        ("contact", "o pedido 48213 foi entregue dia 15/03"),
    )

    summary = summarize(turns)

    assert summary.key_points == ["o pedido 48213 foi entregue dia 15/03"]


def test_system_turns_are_ignored() -> None:
    system_only = conversation(("system", "Conversa aberta pelo WhatsApp"), ("system", "Pedido 48213 sincronizado"))

    assert summarize(system_only) == Summary(key_points=[], last_customer_message=None, open_question=False)


def test_at_most_limit_key_points() -> None:
    turns = conversation(*(("contact", f"o pedido {48210 + number} veio com defeito {number}") for number in range(12)))

    assert len(summarize(turns).key_points) == 5
    assert len(summarize(turns, limit=2).key_points) == 2
    assert summarize(turns, limit=0).key_points == []


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        summarize(late_delivery(), limit=-1)


def test_the_same_turns_give_the_same_summary() -> None:
    assert summarize(boleto_not_cleared()) == summarize(list(boleto_not_cleared()))


# -- lengths ---------------------------------------------------------------------------------------


def test_a_very_long_message_is_cut_between_words_with_an_ellipsis() -> None:
    message = " ".join(f"o pedido {number} nao chegou e ninguem responde" for number in range(48000, 48100))

    summary = summarize(conversation(("contact", message)))

    (point,) = summary.key_points
    assert len(point) <= MAX_POINT_LENGTH
    assert point.endswith("\u2026")
    assert message.startswith(point.removesuffix("\u2026"))
    assert message[len(point) - 1] == " "  # the cut fell between two words
    assert summary.last_customer_message == point


def test_a_sentence_of_exactly_the_limit_is_kept_whole_and_one_character_more_is_cut() -> None:
    sentence = "o pedido 48213 nao chegou" + " e nada" * 25
    assert len(sentence) == MAX_POINT_LENGTH

    assert summarize(conversation(("contact", sentence))).key_points == [sentence]
    assert summarize(conversation(("contact", f"{sentence}!"))).key_points == [f"{sentence[:-5]}\u2026"]


def test_a_word_too_long_to_drop_is_cut_inside() -> None:
    link = "https://loja.example/rastreio/" + "a" * 400

    (point,) = summarize(conversation(("contact", f"o rastreio {link} nao abre"))).key_points

    assert len(point) == MAX_POINT_LENGTH
    assert point == f"o rastreio {link}"[: MAX_POINT_LENGTH - 1] + "\u2026"


def test_a_long_message_with_sentences_gives_its_best_sentences() -> None:
    message = (
        "Bom dia. Eu sou cliente de voces faz muitos anos e nunca tive problema nenhum, sempre indiquei para "
        "todo mundo da familia. Mas dessa vez o pedido 48213 chegou com a tela quebrada. Quero a troca ou o "
        "reembolso de R$ 2.399,00 ate sexta."
    )

    assert summarize(conversation(("contact", message)), limit=2).key_points == [
        "Mas dessa vez o pedido 48213 chegou com a tela quebrada.",
        "Quero a troca ou o reembolso de R$ 2.399,00 ate sexta.",
    ]


def test_ten_thousand_turns_still_give_five_points() -> None:
    turns = [
        Turn(turn.sender, turn.text, START + timedelta(seconds=number))
        for number, turn in enumerate(late_delivery() * 1000)
    ]
    assert len(turns) == 10_000

    summary = summarize(turns)

    assert len(summary.key_points) == 5
    assert len(set(summary.key_points)) == 5, "repeated turns are not repeated points"


# -- open question ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("turns", "open_question"),
    [
        ([("contact", "qual o prazo de entrega?")], True),
        ([("contact", "meu pedido nao chegou")], True),  # nobody has replied yet
        ([("contact", "meu pedido nao chegou"), ("agent", "Chega amanhã.")], False),
        ([("agent", "Chega amanhã."), ("contact", "meu pedido nao chegou")], True),
        ([("contact", "meu pedido nao chegou"), ("agent", "Chega amanhã."), ("contact", "como assim amanha")], True),
        ([("contact", "qual o prazo?"), ("agent", "Cinco dias úteis.")], True),  # the reply may not answer it
        ([("contact", "meu pedido nao chegou"), ("agent", "Chega amanhã."), ("contact", "ok, obrigada")], False),
        ([("contact", "meu pedido nao chegou"), ("agent", "Chega amanhã."), ("contact", "\U0001f44d")], False),
        ([("contact", "meu pedido nao chegou"), ("agent", "Chega amanhã."), ("contact", "ok?")], True),
        ([("contact", "alguem pode me ajudar? \U0001f64f"), ("agent", "Olá!")], True),
        ([("contact", "pedido 48213"), ("contact", "obrigada")], True),  # thanked in advance, still waiting
        ([("contact", "oi")], True),
        ([("contact", "oi"), ("agent", "Olá! Como posso ajudar?")], False),
        ([("agent", "Olá! Como posso ajudar?")], False),
        ([], False),
    ],
)
def test_open_question(turns: list[tuple[Sender, str]], open_question: bool) -> None:
    assert summarize(conversation(*turns)).open_question is open_question


def test_a_system_turn_is_not_a_reply() -> None:
    turns = conversation(("contact", "meu pedido nao chegou"), ("system", "Conversa transferida para Logística"))

    assert summarize(turns).open_question is True


# -- the team's promise ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "promise",
    [
        "Vou verificar com a transportadora e te retorno.",
        "vou te passar o novo codigo",
        "Verificaremos junto ao financeiro.",
        "Assim que tiver novidades te aviso.",
        "I will check with the warehouse.",
        "We'll send a new one today.",
        "Let me check that for you.",
        "Voy a revisar tu pedido.",
    ],
)
def test_a_promise_in_the_teams_last_reply_is_the_commitment(promise: str) -> None:
    turns = conversation(("contact", "meu pedido 48213 nao chegou"), ("person", promise))

    summary = summarize(turns)

    assert summary.commitment == promise
    assert promise not in summary.key_points


def test_the_promise_may_come_before_the_last_turn_of_the_reply() -> None:
    turns = conversation(
        ("contact", "meu pedido 48213 nao chegou"),
        ("agent", "Vou verificar com a transportadora."),
        ("agent", "Um momento, por favor."),
        ("contact", "ok"),
    )

    assert summarize(turns).commitment == "Vou verificar com a transportadora."


def test_a_promise_kept_by_a_later_reply_is_not_the_commitment() -> None:
    turns = conversation(
        ("contact", "meu pedido 48213 nao chegou"),
        ("agent", "Vou verificar com a transportadora."),
        ("contact", "ok"),
        ("agent", "Verifiquei: o pedido chega amanhã."),
    )

    assert summarize(turns).commitment is None


def test_the_customer_promising_something_is_no_commitment() -> None:
    turns = conversation(("agent", "Como posso ajudar?"), ("contact", "vou verificar o numero do pedido e ja volto"))

    assert summarize(turns).commitment is None


def test_a_reply_without_a_promise_has_no_commitment() -> None:
    assert summarize(conversation(("contact", "qual o prazo?"), ("agent", "Cinco dias úteis."))).commitment is None


# -- rendering -------------------------------------------------------------------------------------


def test_the_briefing_lists_the_key_points_the_promise_and_the_state() -> None:
    assert summarize(charged_twice()).text() == (
        "Key points:\n"
        "- I was charged twice for order #10457, $89.90 each time.\n"
        "- Can you refund one of them?\n"
        "Promised to the customer: I'll check with our billing team and get back to you by tomorrow.\n"
        "Last message from the customer: Thanks!\n"
        "The customer is waiting for an answer."
    )


def test_the_briefing_labels_go_through_the_given_gettext() -> None:
    portuguese = {
        "Key points": "Pontos principais",
        "Promised to the customer": "Prometido ao cliente",
        "Last message from the customer": "Última mensagem do cliente",
        "The customer is waiting for an answer.": "O cliente aguarda resposta.",
    }
    asked: list[str] = []

    def gettext(message: str) -> str:
        asked.append(message)
        return portuguese[message]

    text = summarize(boleto_not_cleared()).text(gettext)

    assert text == (
        "Pontos principais:\n"
        "- paguei o boleto ontem e no app ainda mostra pendente\n"
        "- valor R$ 150,00\n"
        "- tb tentei pagar no pix mas deu erro\n"
        "- 123.456.789-00\n"
        "- pq demora tanto pra compensar??\n"
        "Prometido ao cliente: Vou verificar o pagamento.\n"
        "Última mensagem do cliente: pq demora tanto pra compensar??\n"
        "O cliente aguarda resposta."
    )
    assert asked == list(portuguese)


def test_the_briefing_leaves_out_what_it_does_not_know() -> None:
    summary = Summary(key_points=[], last_customer_message="oi", open_question=False)

    assert summary.text() == "Last message from the customer: oi"


def test_an_empty_conversation_has_an_empty_summary_and_says_so() -> None:
    summary = summarize([])

    assert summary == Summary(key_points=[], last_customer_message=None, open_question=False, commitment=None)
    assert summary.text() == "The customer has not written anything yet."
    assert summary.text(lambda message: f"[{message}]") == "[The customer has not written anything yet.]"
