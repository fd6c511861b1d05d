"""Text out of uploaded files and imported pages: headings, paragraphs and table rows, cleaned the same way.

Pure functions over bytes; the caller stores the file, turns :class:`ExtractionFailed` codes into
translated messages and hands the blocks to :mod:`plugins.knowledge.chunking`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import PurePosixPath
from typing import Any, Literal

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "MAX_UNZIPPED_BYTES",
    "Block",
    "Extracted",
    "ExtractionFailed",
    "decode_text",
    "extract",
    "extract_html",
    "extract_markdown",
]

MAX_BYTES = 25 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_ROWS = 50_000
MIN_CHARS_PER_PAGE = 20
"""Below this average a PDF is taken for scanned images, whatever a stamped page number adds."""

_EXTENSIONS = {
    "pdf": "pdf",
    "docx": "docx",
    "txt": "txt",
    "text": "txt",
    "md": "markdown",
    "markdown": "markdown",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "csv": "csv",
    "xlsx": "xlsx",
}
_CONTENT_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/plain": "txt",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


class ExtractionFailed(Exception):
    """A file we cannot read. ``code`` is stable (the caller translates it); ``params`` fill its message.

    Codes: ``unsupported_type`` (extension), ``corrupt`` (detail), ``encrypted``, ``no_text`` (pages,
    for PDFs) and ``too_large`` (limit, in bytes).
    """

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(f"{code} {params}" if params else code)


@dataclass(frozen=True)
class Block:
    """One heading, paragraph or table row, in reading order."""

    kind: Literal["heading", "text", "row"]
    text: str
    level: int = 0
    page: int | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class Extracted:
    blocks: list[Block]
    title: str | None
    pages: int | None
    kind: str
    truncated: bool = False
    """A spreadsheet or CSV stopped at :data:`MAX_ROWS` rows."""


def extract(data: bytes, *, filename: str, content_type: str | None = None, max_bytes: int = MAX_BYTES) -> Extracted:
    """The blocks of an uploaded file, its format chosen by the file's extension, then by ``content_type``.

    Blocking and CPU-bound: call it in a worker thread. The ``charset`` of ``content_type`` decodes HTML.
    """
    if len(data) > max_bytes:
        raise ExtractionFailed("too_large", limit=max_bytes)
    extension = PurePosixPath(filename.lower()).suffix.lstrip(".")
    media_type = (content_type or "").split(";")[0].strip().lower()
    kind = _EXTENSIONS.get(extension) or _CONTENT_TYPES.get(media_type)
    if kind is None:
        raise ExtractionFailed("unsupported_type", extension=extension)
    readers: dict[str, Callable[[bytes], Extracted]] = {
        "pdf": _pdf,
        "docx": _docx,
        "txt": _txt,
        "markdown": lambda raw: extract_markdown(decode_text(raw)),
        "html": lambda raw: extract_html(raw, encoding=_declared_charset(content_type)),
        "csv": _csv,
        "xlsx": _xlsx,
    }
    try:
        extracted = readers[kind](data)
    except ExtractionFailed:
        raise
    except Exception as exc:
        # Parsers of untrusted files fail in every way (KeyError, struct.error, zlib.error...): all mean "corrupt".
        raise ExtractionFailed("corrupt", detail=f"{type(exc).__name__}: {exc}") from exc
    return _require_text(extracted)


def extract_html(html: str | bytes, *, url: str | None = None, encoding: str | None = None) -> Extracted:
    """The readable part of a web page: ``<main>`` or ``<article>`` when there is one, without menus and scripts.

    ``encoding`` is the charset the server declared; without it the page's BOM or ``<meta charset>`` decides.
    ``url`` is the title when the page has neither ``<title>`` nor ``<h1>``.
    """
    text = html if isinstance(html, str) else _decode_html(html, encoding)
    tree = LexborHTMLParser(text)
    title = _html_title(tree) or url
    for selector in _HTML_NOISE:
        for node in tree.css(selector):
            node.decompose()
    for node in tree.css("header, footer"):
        if not _inside(node, {"main", "article"}):
            node.decompose()
    root = _html_root(tree)
    walker = _HtmlWalker()
    if root is not None:
        walker.walk(root)
        walker.flush()
    return _require_text(Extracted(blocks=walker.blocks, title=title, pages=None, kind="html"))


def extract_markdown(text: str) -> Extracted:
    """Headings (``#`` lines and underlined ones) and paragraphs of a Markdown text; code blocks kept as text.

    Inline markup (emphasis, links) stays as written: it reads well enough for search and for the model.
    """
    blocks: list[Block] = []
    paragraph: list[str] = []
    fence: str | None = None

    def flush() -> None:
        _append_text(blocks, "\n".join(paragraph))
        paragraph.clear()

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
                flush()
            else:
                paragraph.append(line)
            continue
        if stripped.startswith(("```", "~~~")):
            flush()
            fence = stripped[:3]
            continue
        heading = _MD_HEADING.match(stripped)
        if heading:
            flush()
            _append_heading(blocks, _MD_CLOSING_HASHES.sub("", heading.group(2) or ""), len(heading.group(1)))
        elif _MD_UNDERLINE.match(stripped) and len(paragraph) == 1:
            _append_heading(blocks, paragraph.pop(), 1 if stripped.startswith("=") else 2)
        elif not stripped or _MD_RULE.match(stripped):
            flush()
        else:
            paragraph.append(line)
    flush()
    title = next((block.text for block in blocks if block.kind == "heading"), None)
    return _require_text(Extracted(blocks=blocks, title=title, pages=None, kind="markdown"))


# -- cleaning ------------------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_SPACES = re.compile(r"[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _clean(text: str) -> str:
    """NFC, no control characters but newline and tab, one space where there were several, lines trimmed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(char for char in text if char in "\n\t" or unicodedata.category(char) != "Cc")
    text = _SPACES.sub(" ", text.translate(_INVISIBLE))
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _append_text(blocks: list[Block], text: str, *, page: int | None = None) -> None:
    cleaned = _clean(text)
    if cleaned:
        blocks.append(Block(kind="text", text=cleaned, page=page))


def _append_heading(blocks: list[Block], text: str, level: int) -> None:
    cleaned = " ".join(_clean(text).split())
    if cleaned:
        blocks.append(Block(kind="heading", text=cleaned, level=min(max(level, 1), 6)))


def _require_text(extracted: Extracted) -> Extracted:
    if not any(block.text for block in extracted.blocks):
        params = {"pages": extracted.pages} if extracted.kind == "pdf" else {}
        raise ExtractionFailed("no_text", **params)
    return extracted


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, else Latin-1, which never fails."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# -- plain text and Markdown -----------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})(?:\s+(.*))?$")
_MD_CLOSING_HASHES = re.compile(r"(?:^|\s+)#+$")
_MD_UNDERLINE = re.compile(r"^(=+|-+)$")
_MD_RULE = re.compile(r"^([-*_])(\s*\1){2,}$")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def _txt(data: bytes) -> Extracted:
    blocks: list[Block] = []
    for paragraph in _PARAGRAPH_BREAK.split(decode_text(data).replace("\r\n", "\n")):
        _append_text(blocks, paragraph)
    return Extracted(blocks=blocks, title=None, pages=None, kind="txt")


# -- HTML ------------------------------------------------------------------------------------------

_HTML_NOISE = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "aside",
    "form",
    "svg",
    "iframe",
    "[role=navigation]",
    "[hidden]",
)
_HTML_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_HTML_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "body", "details", "dialog", "div", "dl", "fieldset", "figure",
        "hr", "legend", "main", "ol", "p", "section", "table", "tbody", "tfoot", "thead", "ul",
    }
)  # fmt: skip
_HTML_LINES = frozenset({"li", "dt", "dd", "caption", "summary", "figcaption"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def _decode_html(data: bytes, declared: str | None) -> str:
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    meta = _META_CHARSET.search(data[:4096])
    for candidate in (declared, meta.group(1).decode("ascii") if meta else None):
        encoding = _web_encoding(candidate)
        if encoding:
            return data.decode(encoding, errors="replace")
    return decode_text(data)


def _declared_charset(content_type: str | None) -> str | None:
    match = _CHARSET_PARAM.search(content_type or "")
    return match.group(1) if match else None


def _web_encoding(name: str | None) -> str | None:
    """The codec for a declared charset; Latin-1 and ASCII mean Windows-1252 on the web, as browsers read them."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return "cp1252" if codec in ("latin-1", "iso8859-1", "ascii") else codec


def _html_title(tree: LexborHTMLParser) -> str | None:
    for selector in ("title", "h1"):
        node = tree.css_first(selector)
        text = " ".join(_clean(node.text(separator=" ")).split()) if node is not None else ""
        if text:
            return text
    return None


def _inside(node: LexborNode, tags: set[str]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False


def _html_root(tree: LexborHTMLParser) -> LexborNode | None:
    main = tree.css_first("main")
    if main is not None:
        return main
    articles = tree.css("article")
    return articles[0] if len(articles) == 1 else tree.body


class _HtmlWalker:
    """Turns the element tree into blocks: headings on their own, inline text gathered into paragraph lines."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._lines: list[str] = []
        self._pieces: list[str] = []

    def walk(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self._pieces.append(_WHITESPACE.sub(" ", child.text_content or ""))
            elif tag in _HTML_HEADINGS:
                self.flush()
                _append_heading(self.blocks, child.text(separator=""), _HTML_HEADINGS[tag])
            elif tag == "br":
                self._end_line()
            elif tag == "pre":
                self.flush()
                _append_text(self.blocks, child.text())
            elif tag == "tr":
                self._end_line()
                cells = [
                    " ".join(cell.text(separator=" ").split()) for cell in child.iter() if cell.tag in ("td", "th")
                ]
                self._lines.append(" | ".join(cell for cell in cells if cell))
            elif tag in _HTML_LINES:
                self._end_line()
                self.walk(child)
                self._end_line()
            elif tag in _HTML_BLOCKS:
                self.flush()
                self.walk(child)
                self.flush()
            elif not tag.startswith("-"):
                self.walk(child)

    def flush(self) -> None:
        self._end_line()
        _append_text(self.blocks, "\n".join(self._lines))
        self._lines.clear()

    def _end_line(self) -> None:
        line = "".join(self._pieces).strip()
        self._pieces.clear()
        if line:
            self._lines.append(line)


# -- PDF -------------------------------------------------------------------------------------------

_HYPHENATED = re.compile(r"(\w)-\n(?=[a-zà-öø-ÿ])")
_DIGITS = re.compile(r"\d+")
_EDGE_LINES = 3
"""Running headers and footers sit in the first or last lines a page's text comes out with."""


def _pdf(data: bytes) -> Extracted:
    from pypdf import PasswordType, PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise ExtractionFailed("encrypted")
    pages = [_clean(page.extract_text() or "") for page in reader.pages]
    total = len(pages)
    if total == 0 or sum(len("".join(text.split())) for text in pages) < MIN_CHARS_PER_PAGE * total:
        raise ExtractionFailed("no_text", pages=total)
    repeated = _running_lines(pages) if total >= 3 else set()
    blocks: list[Block] = []
    for number, text in enumerate(pages, start=1):
        lines = [line for line in text.split("\n") if _DIGITS.sub("#", line) not in repeated or not line]
        joined = _HYPHENATED.sub(r"\1", "\n".join(lines))
        for paragraph in _PARAGRAPH_BREAK.split(joined):
            _append_text(blocks, " ".join(paragraph.split("\n")), page=number)
    title = _clean(str(reader.metadata.title or "")) if reader.metadata else ""
    return Extracted(blocks=blocks, title=title or None, pages=total, kind="pdf")


def _running_lines(pages: list[str]) -> set[str]:
    """Lines (digits blurred, so "Página 3" matches "Página 4") at a page's edge on more than half the pages."""
    seen: Counter[str] = Counter()
    for text in pages:
        lines = [line for line in text.split("\n") if line]
        edges = lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]
        seen.update({_DIGITS.sub("#", line) for line in edges})
    return {line for line, count in seen.items() if count > len(pages) / 2}


# -- DOCX ------------------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"^heading (\d)$", re.IGNORECASE)


def _docx(data: bytes) -> Extracted:
    import docx
    from docx.table import Table

    _refuse_zip_bomb(data)
    document = docx.Document(io.BytesIO(data))
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            _append_text(blocks, "\n".join(_docx_rows(item)))
            continue
        style = item.style.name if item.style is not None else ""
        heading = _DOCX_HEADING.match(style or "")
        if heading or style == "Title":
            _append_heading(blocks, item.text, int(heading.group(1)) if heading else 1)
        else:
            _append_text(blocks, item.text)
    first_heading = next((block.text for block in blocks if block.kind == "heading"), None)
    title = _clean(document.core_properties.title or "") or first_heading
    return Extracted(blocks=blocks, title=title, pages=None, kind="docx")


def _docx_rows(table: Any) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(_clean(cell.text).split())
            # A merged cell comes back once per grid column it spans.
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            yield " | ".join(cells)


def _refuse_zip_bomb(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise ExtractionFailed("corrupt", detail=str(exc)) from exc
    if unzipped > MAX_UNZIPPED_BYTES:
        raise ExtractionFailed("too_large", limit=MAX_UNZIPPED_BYTES)


# -- CSV and XLSX ----------------------------------------------------------------------------------


def _csv(data: bytes) -> Extracted:
    text = decode_text(data).replace("\x00", "")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(";,\t", key=first_line.count) if first_line else ","
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    blocks, _, truncated = _table_blocks(rows, sheet=None, budget=MAX_ROWS)
    return Extracted(blocks=blocks, title=None, pages=None, kind="csv", truncated=truncated)


def _xlsx(data: bytes) -> Extracted:
    import openpyxl

    _refuse_zip_bomb(data)
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    blocks: list[Block] = []
    budget, truncated = MAX_ROWS, False
    try:
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":
                continue
            if truncated:
                break
            sheet_blocks, read, truncated = _table_blocks(
                sheet.iter_rows(values_only=True), sheet=sheet.title, budget=budget
            )
            blocks.extend(sheet_blocks)
            budget -= read
    finally:
        workbook.close()
    return Extracted(blocks=blocks, title=None, pages=None, kind="xlsx", truncated=truncated)


def _table_blocks(rows: Iterable[Iterable[Any]], *, sheet: str | None, budget: int) -> tuple[list[Block], int, bool]:
    """One ``row`` block per data row, as ``column: value`` lines; the first non-empty row names the columns.

    At most ``budget`` rows are read, empty ones included, so a sheet of blank formatted rows stays cheap.
    Returns the blocks, the rows read and whether rows were left unread.
    """
    blocks: list[Block] = []
    header: list[str] | None = None
    read = 0
    for row in rows:
        if read >= budget:
            return blocks, read, True
        read += 1
        cells = [_cell_text(value) for value in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        lines = [f"{_column_name(header, index)}: {value}" for index, value in enumerate(cells) if value]
        blocks.append(Block(kind="row", text="\n".join(lines), sheet=sheet))
    return blocks, read, False


def _column_name(header: list[str], index: int) -> str:
    name = header[index] if index < len(header) else ""
    return name or f"Column {index + 1}"


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return " ".join(_clean(str(value)).split())
