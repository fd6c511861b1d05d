"""Text extraction from uploads and pages: every fixture file is built here, with Portuguese content."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import docx
import openpyxl
import pytest
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from plugins.knowledge.extraction import (
    MAX_UNZIPPED_BYTES,
    Block,
    ExtractionFailed,
    extract,
    extract_html,
    extract_markdown,
)

# -- factories -------------------------------------------------------------------------------------


class _ManualPdf(FPDF):
    """A PDF with the running header and page-number footer that manuals have on every page."""

    def header(self) -> None:
        self.set_font("Helvetica", size=9)
        self.cell(0, 8, "Loja Exemplo - Manual do cliente", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.cell(0, 10, f"Página {self.page_no()}", align="C")


def make_pdf(pages: list[list[str]], *, title: str | None = None, running: bool = True) -> bytes:
    pdf = _ManualPdf() if running else FPDF()
    if title:
        pdf.set_title(title)
    for lines in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        for line in lines:
            pdf.cell(0, 8, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def make_scanned_pdf(pages: int, *, stamp_page_numbers: bool = False) -> bytes:
    """Pages that are only a picture of text, as a scanner makes them, perhaps with a stamped page number."""
    picture = Image.new("RGB", (600, 300), "white")
    ImageDraw.Draw(picture).text((20, 20), "Política de trocas: devolução em até 7 dias", fill="black")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.set_auto_page_break(False)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.image(io.BytesIO(buffer.getvalue()), x=10, y=10, w=180)
        if stamp_page_numbers:
            pdf.set_font("Helvetica", size=9)
            pdf.set_y(-15)
            pdf.cell(0, 10, f"Página {number}", align="C")
    return bytes(pdf.output())


def encrypt_pdf(data: bytes, *, user_password: str, owner_password: str | None = None) -> bytes:
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(data)).pages:
        writer.add_page(page)
    writer.encrypt(user_password, owner_password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Manual de atendimento"
    document.add_heading("Política de trocas", level=0)
    document.add_paragraph("Aceitamos a devolução em até 7 dias após o recebimento.")
    document.add_heading("Prazos", level=1)
    document.add_paragraph("O reembolso é feito em até 5 dias úteis.")
    document.add_paragraph("   ")
    document.add_heading("Cartão de crédito", level=2)
    document.add_paragraph("O estorno aparece na próxima fatura.")
    table = document.add_table(rows=3, cols=2)
    for row, (kind, days) in zip(
        table.rows, [("Tipo", "Prazo"), ("Troca", "30 dias"), ("Devolução", "7 dias")], strict=True
    ):
        row.cells[0].text, row.cells[1].text = kind, days
    document.add_paragraph("Dúvidas? Fale com a gente.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    products = workbook.active
    products.title = "Produtos"
    products.append([None, None, None])
    products.append(["Produto", "Preço", "Estoque", "Lançamento", None])
    products.append(["Camiseta promoção", 49.9, 120, datetime(2024, 3, 1), None])
    products.append([None, None, None, None])
    products.append(["Boné", 30.0, None, date(2024, 5, 20), "sem cabeçalho"])
    stores = workbook.create_sheet("Lojas")
    stores.append(["Cidade", "Horário"])
    stores.append(["Recife", "9h às 18h"])
    hidden = workbook.create_sheet("Custos")
    hidden.append(["Fornecedor", "Custo"])
    hidden.append(["Segredo", 10])
    hidden.sheet_state = "hidden"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_zip_bomb(filename: str) -> bytes:
    """A small archive that claims to unpack to more than the limit: zeros compress to almost nothing."""
    buffer = io.BytesIO()
    zeros = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open(filename, "w", force_zip64=True) as entry,
    ):
        for _ in range(MAX_UNZIPPED_BYTES // len(zeros) + 1):
            entry.write(zeros)
    return buffer.getvalue()


def failure(data: bytes, filename: str, **options: object) -> ExtractionFailed:
    with pytest.raises(ExtractionFailed) as raised:
        extract(data, filename=filename, **options)  # type: ignore[arg-type]
    return raised.value


def texts(blocks: list[Block]) -> list[tuple[str, str]]:
    return [(block.kind, block.text) for block in blocks]


# -- choosing the format ---------------------------------------------------------------------------


def test_the_extension_chooses_the_format_before_the_content_type() -> None:
    extracted = extract(b"# Trocas\n\nEm 7 dias.", filename="trocas.md", content_type="text/plain")

    assert extracted.kind == "markdown"
    assert texts(extracted.blocks) == [("heading", "Trocas"), ("text", "Em 7 dias.")]


def test_the_content_type_decides_when_the_file_has_no_known_extension() -> None:
    extracted = extract(b"<h1>Trocas</h1><p>Em 7 dias.</p>", filename="upload", content_type="text/html; charset=utf-8")

    assert extracted.kind == "html"
    assert texts(extracted.blocks) == [("heading", "Trocas"), ("text", "Em 7 dias.")]


def test_an_unknown_format_is_refused_with_its_extension() -> None:
    error = failure(b"\xd0\xcf\x11\xe0", "contrato.DOC", content_type="application/msword")

    assert (error.code, error.params) == ("unsupported_type", {"extension": "doc"})


def test_a_file_over_the_limit_is_refused_before_it_is_read() -> None:
    error = failure(b"x" * 101, "notas.txt", max_bytes=100)

    assert (error.code, error.params) == ("too_large", {"limit": 100})


def test_a_file_without_text_fails_with_no_text() -> None:
    error = failure(b" \n\n\t \n", "vazio.txt")

    assert (error.code, error.params) == ("no_text", {})


# -- cleaning --------------------------------------------------------------------------------------


def test_text_is_normalized_to_nfc_without_control_characters_or_runs_of_spaces() -> None:
    decomposed = "promoc\u0327a\u0303o"  # "promoção" with combining marks, as macOS writes file names
    data = f"  {decomposed}\x07  vale   hoje\u00a0\u00a0mesmo \r\nsegunda\tlinha  ".encode()

    extracted = extract(data, filename="aviso.txt")

    assert texts(extracted.blocks) == [("text", "promoção vale hoje mesmo\nsegunda\tlinha")]


def test_plain_text_paragraphs_split_on_blank_lines_and_legacy_encodings_are_read() -> None:
    data = "Política de trocas\nem até 7 dias.\n\n\nPromoção de verão.".encode("cp1252")

    extracted = extract(data, filename="politica.txt")

    assert extracted.kind == "txt"
    assert extracted.title is None
    assert texts(extracted.blocks) == [("text", "Política de trocas\nem até 7 dias."), ("text", "Promoção de verão.")]


# -- Markdown --------------------------------------------------------------------------------------


def test_markdown_headings_paragraphs_and_code_blocks() -> None:
    text = (
        "# Política de trocas\n\n"
        "Aceitamos a devolução em até 7 dias.\nSem custo para o cliente.\n\n"
        "## Prazos ##\n"
        "```\n# isto é código, não um título\n```\n"
        "Reembolso\n---------\n"
        "Em até 5 dias úteis.\n\n"
        "***\n"
        "###### Observação\n"
    )

    extracted = extract_markdown(text)

    assert extracted.title == "Política de trocas"
    assert extracted.blocks == [
        Block(kind="heading", text="Política de trocas", level=1),
        Block(kind="text", text="Aceitamos a devolução em até 7 dias.\nSem custo para o cliente."),
        Block(kind="heading", text="Prazos", level=2),
        Block(kind="text", text="# isto é código, não um título"),
        Block(kind="heading", text="Reembolso", level=2),
        Block(kind="text", text="Em até 5 dias úteis."),
        Block(kind="heading", text="Observação", level=6),
    ]


def test_markdown_without_headings_has_no_title() -> None:
    assert extract_markdown("Só um parágrafo.").title is None


def test_an_empty_editor_document_has_no_text() -> None:
    with pytest.raises(ExtractionFailed) as raised:
        extract_markdown("# \n\n   \n")

    assert raised.value.code == "no_text"


# -- HTML ------------------------------------------------------------------------------------------

NOISY_PAGE = """<!doctype html>
<html><head><title>Trocas e devoluções | Loja Exemplo</title>
<style>body { color: red }</style><script>window.track("visita")</script></head>
<body>
<header><a href="/">Loja Exemplo</a> <a href="/conta">Minha conta</a></header>
<nav><ul><li>Início</li><li>Ofertas</li></ul></nav>
<div role="navigation">Você está em: Início / Ajuda</div>
<article>
  <header><h1>Trocas e devoluções</h1></header>
  <p>Você pode pedir a <strong>devolução</strong>
     em até 7 dias.</p>
  <ul><li>Produto sem uso</li><li>Com a nota fiscal</li></ul>
  <h2>Prazos</h2>
  <table><tr><th>Tipo</th><th>Prazo</th></tr><tr><td>Troca</td><td>30 dias</td></tr></table>
  <div>Atendimento<br>de segunda a sexta</div>
  <aside>Aproveite a promoção!</aside>
  <form><label>E-mail</label><input name="email"></form>
  <noscript>Ative o JavaScript</noscript>
  <svg><text>ícone</text></svg>
  <iframe src="https://video.example"></iframe>
</article>
<footer>© 2024 Loja Exemplo · CNPJ 00.000.000/0001-00</footer>
</body></html>"""


def test_html_keeps_the_article_and_drops_menus_scripts_and_footers() -> None:
    extracted = extract_html(NOISY_PAGE, url="https://loja.example/trocas")

    assert extracted.kind == "html"
    assert extracted.title == "Trocas e devoluções | Loja Exemplo"
    assert extracted.blocks == [
        Block(kind="heading", text="Trocas e devoluções", level=1),
        Block(kind="text", text="Você pode pedir a devolução em até 7 dias."),
        Block(kind="text", text="Produto sem uso\nCom a nota fiscal"),
        Block(kind="heading", text="Prazos", level=2),
        Block(kind="text", text="Tipo | Prazo\nTroca | 30 dias"),
        Block(kind="text", text="Atendimento\nde segunda a sexta"),
    ]


def test_html_prefers_main_and_falls_back_to_the_first_h1_then_the_url_for_a_title() -> None:
    page = "<body><p>Fora do conteúdo</p><main><h1>Promoção de verão</h1><p>Até 30% off.</p></main></body>"

    assert texts(extract_html(page).blocks) == [("heading", "Promoção de verão"), ("text", "Até 30% off.")]
    assert extract_html(page).title == "Promoção de verão"
    assert extract_html("<p>Olá</p>", url="https://loja.example/ola").title == "https://loja.example/ola"


def test_html_bytes_are_decoded_with_the_declared_or_meta_charset() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Promoção “relâmpago”</p></body></html>'

    from_meta = extract_html(page.encode("cp1252"))
    from_header = extract_html("<p>Devolução</p>".encode("cp1252"), encoding="windows-1252")

    assert texts(from_meta.blocks) == [("text", "Promoção “relâmpago”")]
    assert texts(from_header.blocks) == [("text", "Devolução")]


def test_an_uploaded_html_file_is_decoded_with_the_charset_of_its_content_type() -> None:
    data = "<p>Promoção</p>".encode("utf-16-le")  # no BOM and no meta: only the header can tell

    extracted = extract(data, filename="pagina", content_type='text/html; charset="UTF-16LE"')

    assert texts(extracted.blocks) == [("text", "Promoção")]


def test_a_page_of_nothing_but_navigation_has_no_text() -> None:
    with pytest.raises(ExtractionFailed) as raised:
        extract_html("<body><nav>Início</nav><script>x()</script></body>")

    assert raised.value.code == "no_text"


# -- PDF -------------------------------------------------------------------------------------------


def test_pdf_text_per_page_without_running_headers_and_page_numbers() -> None:
    data = make_pdf(
        [
            ["Política de trocas", "Aceitamos a devolução em até 7 dias."],
            ["Prazos de entrega", "A entrega leva de 3 a 5 dias úteis."],
            ["Promoções", "A promoção vale enquanto durar o estoque."],
        ],
        title="Manual de trocas",
    )

    extracted = extract(data, filename="manual.pdf")

    assert (extracted.kind, extracted.title, extracted.pages) == ("pdf", "Manual de trocas", 3)
    assert extracted.blocks == [
        Block(kind="text", text="Política de trocas Aceitamos a devolução em até 7 dias.", page=1),
        Block(kind="text", text="Prazos de entrega A entrega leva de 3 a 5 dias úteis.", page=2),
        Block(kind="text", text="Promoções A promoção vale enquanto durar o estoque.", page=3),
    ]


def test_pdf_joins_hyphenated_words_and_splits_paragraphs_on_blank_lines() -> None:
    data = make_pdf(
        [["Para mais infor-", "mação sobre a devolução, fale conosco.", "", "Horário: de segunda a sexta-feira."]],
        running=False,
    )

    extracted = extract(data, filename="aviso.pdf")

    assert extracted.title is None
    assert texts(extracted.blocks) == [
        ("text", "Para mais informação sobre a devolução, fale conosco. Horário: de segunda a sexta-feira.")
    ]


def test_pdf_lines_are_kept_when_there_are_too_few_pages_to_call_them_running() -> None:
    data = make_pdf([["Política de trocas em até 7 dias."], ["Promoção de verão com frete grátis."]])

    extracted = extract(data, filename="curto.pdf")

    assert [block.text for block in extracted.blocks] == [
        "Loja Exemplo - Manual do cliente Política de trocas em até 7 dias. Página 1",
        "Loja Exemplo - Manual do cliente Promoção de verão com frete grátis. Página 2",
    ]


def test_a_scanned_pdf_fails_with_no_text_and_its_page_count() -> None:
    error = failure(make_scanned_pdf(1), "digitalizado.pdf")

    assert (error.code, error.params) == ("no_text", {"pages": 1})


def test_a_scanned_pdf_with_stamped_page_numbers_still_fails_with_no_text() -> None:
    error = failure(make_scanned_pdf(2, stamp_page_numbers=True), "digitalizado.pdf")

    assert (error.code, error.params) == ("no_text", {"pages": 2})


def test_a_password_protected_pdf_fails_with_encrypted() -> None:
    data = encrypt_pdf(make_pdf([["Contrato confidencial de prestação de serviços."]]), user_password="secret")

    assert failure(data, "contrato.pdf").code == "encrypted"


def test_a_pdf_with_only_an_owner_password_opens_with_the_empty_one() -> None:
    plain = make_pdf([["Contrato de prestação de serviços, cláusula primeira."]], running=False)

    extracted = extract(encrypt_pdf(plain, user_password="", owner_password="dono"), filename="contrato.pdf")

    assert texts(extracted.blocks) == [("text", "Contrato de prestação de serviços, cláusula primeira.")]


def test_a_broken_pdf_fails_with_corrupt_and_a_detail() -> None:
    error = failure(b"%PDF-1.7\n1 0 obj << /Type /Catalog", "quebrado.pdf")

    assert error.code == "corrupt"
    assert error.params["detail"]


# -- DOCX ------------------------------------------------------------------------------------------


def test_docx_headings_paragraphs_and_tables_in_reading_order() -> None:
    extracted = extract(make_docx(), filename="manual.docx")

    assert (extracted.kind, extracted.title, extracted.pages) == ("docx", "Manual de atendimento", None)
    assert extracted.blocks == [
        Block(kind="heading", text="Política de trocas", level=1),
        Block(kind="text", text="Aceitamos a devolução em até 7 dias após o recebimento."),
        Block(kind="heading", text="Prazos", level=1),
        Block(kind="text", text="O reembolso é feito em até 5 dias úteis."),
        Block(kind="heading", text="Cartão de crédito", level=2),
        Block(kind="text", text="O estorno aparece na próxima fatura."),
        Block(kind="text", text="Tipo | Prazo\nTroca | 30 dias\nDevolução | 7 dias"),
        Block(kind="text", text="Dúvidas? Fale com a gente."),
    ]


def test_a_docx_without_a_core_title_is_titled_by_its_first_heading() -> None:
    document = docx.Document()
    document.add_heading("Garantia estendida", level=1)
    document.add_paragraph("Cobre defeitos por 12 meses.")
    buffer = io.BytesIO()
    document.save(buffer)

    assert extract(buffer.getvalue(), filename="garantia.docx").title == "Garantia estendida"


def test_a_docx_that_unpacks_past_the_limit_is_refused_as_too_large() -> None:
    error = failure(make_zip_bomb("word/document.xml"), "bomba.docx")

    assert (error.code, error.params) == ("too_large", {"limit": MAX_UNZIPPED_BYTES})


def test_a_docx_that_is_not_a_zip_is_corrupt() -> None:
    assert failure(b"PK\x03\x04 truncated", "manual.docx").code == "corrupt"


# -- CSV and XLSX ----------------------------------------------------------------------------------


def test_csv_rows_become_column_value_blocks_with_sniffed_semicolons_and_cp1252() -> None:
    data = "produto;preço;descrição\r\nCamiseta;49,90;Em promoção\r\n;;\r\nBoné;29;\r\nMeia;9;Kit;extra\r\n"

    extracted = extract(data.encode("cp1252"), filename="precos.csv")

    assert (extracted.kind, extracted.truncated) == ("csv", False)
    assert extracted.blocks == [
        Block(kind="row", text="produto: Camiseta\npreço: 49,90\ndescrição: Em promoção"),
        Block(kind="row", text="produto: Boné\npreço: 29"),
        Block(kind="row", text="produto: Meia\npreço: 9\ndescrição: Kit\nColumn 4: extra"),
    ]


def test_csv_with_commas_and_a_utf8_bom() -> None:
    data = '\ufeffpergunta,resposta\n"Posso trocar?","Sim, em até 7 dias"\n'.encode()

    extracted = extract(data, filename="faq.csv")

    assert texts(extracted.blocks) == [("row", "pergunta: Posso trocar?\nresposta: Sim, em até 7 dias")]


def test_xlsx_rows_of_every_visible_sheet_with_formatted_values() -> None:
    extracted = extract(make_xlsx(), filename="catalogo.xlsx")

    assert (extracted.kind, extracted.truncated) == ("xlsx", False)
    assert extracted.blocks == [
        Block(
            kind="row",
            text="Produto: Camiseta promoção\nPreço: 49.9\nEstoque: 120\nLançamento: 2024-03-01",
            sheet="Produtos",
        ),
        Block(
            kind="row",
            text="Produto: Boné\nPreço: 30\nLançamento: 2024-05-20\nColumn 5: sem cabeçalho",
            sheet="Produtos",
        ),
        Block(kind="row", text="Cidade: Recife\nHorário: 9h às 18h", sheet="Lojas"),
    ]


def test_xlsx_reading_stops_at_the_row_cap_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("plugins.knowledge.extraction.MAX_ROWS", 3)

    extracted = extract(make_xlsx(), filename="catalogo.xlsx")

    # Rows read: the empty first row, the header and the first product.
    assert extracted.truncated is True
    assert [block.text.split("\n")[0] for block in extracted.blocks] == ["Produto: Camiseta promoção"]


def test_an_xlsx_that_unpacks_past_the_limit_is_refused_as_too_large() -> None:
    error = failure(make_zip_bomb("xl/worksheets/sheet1.xml"), "bomba.xlsx")

    assert (error.code, error.params) == ("too_large", {"limit": MAX_UNZIPPED_BYTES})
