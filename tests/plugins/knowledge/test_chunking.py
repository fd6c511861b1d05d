"""Chunking: paragraphs packed under their heading path, sentences kept whole, rows one by one, stable hashes."""

from __future__ import annotations

import hashlib
import itertools
import unicodedata

import pytest

from plugins.knowledge.chunking import TITLE_SEPARATOR, Chunk, chunk_blocks, content_hash
from plugins.knowledge.extraction import Block


def heading(text: str, level: int = 1) -> Block:
    return Block(kind="heading", text=text, level=level)


def text(body: str, page: int | None = None) -> Block:
    return Block(kind="text", text=body, page=page)


def row(body: str, sheet: str | None = "Produtos") -> Block:
    return Block(kind="row", text=body, sheet=sheet)


def sentences(count: int, topic: str = "a política de trocas") -> str:
    return " ".join(f"A frase número {number} fala sobre {topic}." for number in range(1, count + 1))


def path(*headings: str) -> str:
    """A title path as the chunker writes it, headings joined by a single right-pointing angle quote."""
    return TITLE_SEPARATOR.join(headings)


def contents(chunks: list[Chunk]) -> list[tuple[str, str]]:
    return [(chunk.title, chunk.content) for chunk in chunks]


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "overlap"), [(199, 0), (8001, 0), (1200, -1), (1200, 601), (400, 201)])
def test_sizes_and_overlaps_out_of_range_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_blocks([text("Olá.")], size=size, overlap=overlap)


def test_the_extreme_sizes_and_overlaps_are_allowed() -> None:
    assert len(chunk_blocks([text("Olá.")], size=200, overlap=100)) == 1
    assert len(chunk_blocks([text("Olá.")], size=8000, overlap=0)) == 1


# -- text ------------------------------------------------------------------------------------------


def test_paragraphs_under_one_heading_are_packed_until_the_size() -> None:
    first, second, third = "a" * 150, "b" * 150, "c" * 150
    blocks = [heading("Política de trocas"), text(first, page=1), text(second, page=1), text(third, page=2)]

    chunks = chunk_blocks(blocks, size=350, overlap=0)

    assert chunks == [
        Chunk(
            ordinal=0,
            title="Política de trocas",
            content=f"{first}\n\n{second}",
            sha256=content_hash("Política de trocas", f"{first}\n\n{second}"),
            page=1,
            kind="text",
        ),
        Chunk(
            ordinal=1,
            title="Política de trocas",
            content=third,
            sha256=content_hash("Política de trocas", third),
            page=2,
            kind="text",
        ),
    ]


def test_a_long_paragraph_is_cut_at_sentence_ends_and_overlaps_by_the_last_sentence() -> None:
    paragraph = sentences(20)

    chunks = chunk_blocks([text(paragraph)], size=300, overlap=80)

    assert all(len(chunk.content) <= 300 for chunk in chunks)
    assert all(chunk.content.endswith(".") for chunk in chunks)
    assert chunks[0].content.startswith("A frase número 1 fala")
    assert chunks[-1].content.endswith("A frase número 20 fala sobre a política de trocas.")
    for previous, current in itertools.pairwise(chunks):
        last_sentence = previous.content[previous.content.rindex("A frase") :]
        assert current.content.startswith(f"{last_sentence} A frase")


def test_without_overlap_the_chunks_put_back_together_are_the_text() -> None:
    paragraph = sentences(30)

    chunks = chunk_blocks([text(paragraph)], size=250, overlap=0)

    assert len(chunks) > 3
    assert " ".join(chunk.content for chunk in chunks) == paragraph


def test_a_sentence_longer_than_the_size_is_cut_between_words_and_overlaps_at_a_word() -> None:
    words = [f"palavra{number:03d}" for number in range(120)]

    chunks = chunk_blocks([text(" ".join(words))], size=200, overlap=40)

    assert all(len(chunk.content) <= 200 for chunk in chunks)
    assert all(set(chunk.content.split()) <= set(words) for chunk in chunks)
    # 18 words of 10 characters fill 197; the 40 characters of overlap hold the last 3 whole words.
    assert chunks[0].content.split() == words[:18]
    assert chunks[1].content.split() == words[15:33]
    for previous, current in itertools.pairwise(chunks):
        assert current.content.split()[:3] == previous.content.split()[-3:]
    assert chunks[-1].content.split()[-1] == "palavra119"


def test_the_overlap_copies_at_most_half_of_a_short_chunk_and_never_grows_a_chunk_past_the_size() -> None:
    short, long, longest = "Prazo de troca: 7 dias.", "x" * 180, "y" * 195

    chunks = chunk_blocks([text(short), text(long), text(longest)], size=200, overlap=100)

    assert contents(chunks) == [("", short), ("", f"7 dias.\n\n{long}"), ("", longest)]


def test_a_word_longer_than_the_size_is_the_one_thing_cut_inside() -> None:
    link = "https://loja.example/" + "a" * 450

    chunks = chunk_blocks([text(f"Veja {link} agora.")], size=200, overlap=0)

    assert [chunk.content for chunk in chunks] == ["Veja", link[:200], link[200:400], f"{link[400:]} agora."]


def test_empty_blocks_make_no_chunks() -> None:
    assert chunk_blocks([text("  "), row(""), heading("Vazio"), text("\n")]) == []


def test_text_before_any_heading_has_an_empty_title() -> None:
    assert contents(chunk_blocks([text("Bem-vindo à central de ajuda.")])) == [("", "Bem-vindo à central de ajuda.")]


def test_the_chunk_page_is_the_page_its_text_starts_on() -> None:
    chunks = chunk_blocks([text("a" * 150, page=3), text("b" * 150, page=4), text("c" * 150, page=4)], size=320)

    assert [(chunk.page, chunk.content[0]) for chunk in chunks] == [(3, "a"), (4, "b")]


# -- headings --------------------------------------------------------------------------------------


def test_headings_build_the_title_path_and_start_new_sections() -> None:
    blocks = [
        heading("Trocas e devoluções", 1),
        text("Aceitamos trocas em até 30 dias."),
        heading("Prazos", 2),
        text("Devolução em até 7 dias."),
        heading("Reembolso", 2),
        heading("Cartão", 3),
        text("Estorno na próxima fatura."),
        heading("Sem texto", 2),
        heading("Entrega", 1),
        text("Frete grátis acima de R$ 200."),
    ]

    chunks = chunk_blocks(blocks)

    assert contents(chunks) == [
        ("Trocas e devoluções", "Aceitamos trocas em até 30 dias."),
        (path("Trocas e devoluções", "Prazos"), "Devolução em até 7 dias."),
        (path("Trocas e devoluções", "Reembolso", "Cartão"), "Estorno na próxima fatura."),
        ("Entrega", "Frete grátis acima de R$ 200."),
    ]
    assert [chunk.ordinal for chunk in chunks] == [0, 1, 2, 3]


def test_no_overlap_crosses_a_heading() -> None:
    blocks = [heading("Trocas"), text(sentences(12)), heading("Entrega"), text("Frete grátis para todo o Brasil.")]

    chunks = chunk_blocks(blocks, size=300, overlap=150)

    assert chunks[-1].content == "Frete grátis para todo o Brasil."
    assert chunks[-1].title == "Entrega"


def test_a_title_path_longer_than_300_characters_is_cut() -> None:
    chunks = chunk_blocks([heading("Política " * 30, 1), heading("Trocas " * 30, 2), text("Em até 7 dias.")])

    full_path = path(" ".join(["Política"] * 30), " ".join(["Trocas"] * 30))
    assert chunks[0].title == full_path[:300].rstrip()
    assert len(chunks[0].title) <= 300


# -- rows ------------------------------------------------------------------------------------------


def test_each_row_is_one_chunk_titled_by_its_sheet_and_never_merged() -> None:
    blocks = [
        row("Produto: Camiseta\nPreço: 49,90"),
        row("Produto: Boné\nPreço: 29"),
        row("Cidade: Recife", sheet=None),
    ]

    chunks = chunk_blocks(blocks)

    assert [(chunk.kind, chunk.title, chunk.content) for chunk in chunks] == [
        ("row", "Produtos", "Produto: Camiseta\nPreço: 49,90"),
        ("row", "Produtos", "Produto: Boné\nPreço: 29"),
        ("row", "", "Cidade: Recife"),
    ]


def test_a_row_is_kept_whole_up_to_four_times_the_size() -> None:
    long_row = "\n".join(f"Coluna {number}: {'valor ' * 8}".strip() for number in range(40))
    assert 200 < len(long_row) <= 4 * 600

    assert [chunk.content for chunk in chunk_blocks([row(long_row)], size=600)] == [long_row]


def test_a_row_over_four_times_the_size_is_split_at_its_lines() -> None:
    lines = [f"Coluna {number}: {'valor ' * 8}".strip() for number in range(40)]

    chunks = chunk_blocks([row("\n".join(lines))], size=200, overlap=50)

    assert all(chunk.kind == "row" and len(chunk.content) <= 200 for chunk in chunks)
    assert [line for chunk in chunks for line in chunk.content.split("\n")] == lines


def test_rows_and_text_keep_their_order() -> None:
    chunks = chunk_blocks([heading("Tabela"), text("Preços de maio."), row("Produto: Meia"), text("Fim.")])

    assert [(chunk.kind, chunk.title, chunk.content) for chunk in chunks] == [
        ("text", "Tabela", "Preços de maio."),
        ("row", "Produtos", "Produto: Meia"),
        ("text", "Tabela", "Fim."),
    ]


# -- hashes ----------------------------------------------------------------------------------------


def test_content_hash_is_the_sha256_of_title_newline_content_in_nfc() -> None:
    expected = hashlib.sha256("Trocas\nDevolução em até 7 dias.".encode()).hexdigest()

    assert content_hash("Trocas", "Devolução em até 7 dias.") == expected
    assert content_hash("Trocas", unicodedata.normalize("NFD", "Devolução em até 7 dias.")) == expected


def test_the_same_blocks_always_give_the_same_chunks() -> None:
    blocks = [heading("Trocas"), text(sentences(40)), row("Produto: Meia")]

    assert chunk_blocks(blocks, size=300, overlap=100) == chunk_blocks(list(blocks), size=300, overlap=100)


def test_editing_one_section_keeps_the_hashes_of_the_others() -> None:
    def document(middle: str) -> list[Block]:
        return [
            heading("Trocas"),
            text(sentences(25, "trocas")),
            heading("Entrega"),
            text(sentences(10, "entrega")),
            text(middle),
            text(sentences(10, "frete")),
            heading("Pagamento"),
            text(sentences(25, "pagamento")),
        ]

    before = chunk_blocks(document("O prazo de entrega é de 5 dias."), size=400, overlap=100)
    after = chunk_blocks(
        document("O prazo de entrega passou a ser de 3 dias úteis em capitais."), size=400, overlap=100
    )

    def hashes(chunks: list[Chunk], title: str) -> list[str]:
        return [chunk.sha256 for chunk in chunks if chunk.title == title]

    assert len(hashes(before, "Trocas")) > 1 and len(hashes(before, "Pagamento")) > 1
    assert hashes(after, "Trocas") == hashes(before, "Trocas")
    assert hashes(after, "Pagamento") == hashes(before, "Pagamento")
    assert hashes(after, "Entrega") != hashes(before, "Entrega")
