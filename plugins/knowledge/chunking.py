"""Blocks into chunks for search: paragraphs packed under their heading path, table rows one by one.

Each section (the text under one heading path) is chunked on its own, so editing one section leaves
the chunks, and the hashes, of every other section as they were: re-indexing embeds only what changed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from plugins.knowledge.extraction import Block

__all__ = ["MAX_TITLE", "TITLE_SEPARATOR", "Chunk", "chunk_blocks", "content_hash"]

MAX_TITLE = 300
TITLE_SEPARATOR = " \u203a "
MIN_SIZE, MAX_SIZE = 200, 8000
ROW_SPLIT_FACTOR = 4
"""A row is split (at its lines) only past this many times ``size``: a row is one record, read whole."""

# A sentence ends at . ! ? or an ellipsis, then perhaps closing quotes or brackets, then whitespace.
_SENTENCE_END = re.compile("[.!?\u2026]+[\"')\\]\u00bb\u201d\u2019]*(\\s+)")
_WORD_GAP = re.compile(r"\s+")


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    title: str
    content: str
    sha256: str
    page: int | None
    kind: Literal["text", "row"]


@dataclass(frozen=True)
class _Piece:
    """A paragraph, or a part of one too long for a chunk, with the whitespace that came before it."""

    text: str
    joint: str
    page: int | None


def content_hash(title: str, content: str) -> str:
    """Hex SHA-256 of ``title``, a newline and ``content`` in NFC: equal text, equal hash, whatever its source."""
    return hashlib.sha256(unicodedata.normalize("NFC", f"{title}\n{content}").encode("utf-8")).hexdigest()


def chunk_blocks(blocks: Sequence[Block], *, size: int = 1200, overlap: int = 150) -> list[Chunk]:
    """Chunks of at most ``size`` characters; consecutive chunks of one section share up to ``overlap`` of them.

    Paragraphs under the same heading path are packed together; a paragraph longer than ``size`` is cut
    at sentence ends, then between words (a word longer than ``size`` alone is cut where it must).
    Row blocks become one chunk each, titled with their sheet.
    """
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} characters, not {size}")
    if not 0 <= overlap <= size // 2:
        raise ValueError(f"overlap must be between 0 and {size // 2} characters, not {overlap}")
    drafts: list[tuple[str, str, int | None, Literal["text", "row"]]] = []
    path: list[tuple[int, str]] = []
    section: list[_Piece] = []

    def close_section() -> None:
        title = _title(path)
        drafts.extend((title, content, page, "text") for content, page in _pack(section, size, overlap))
        section.clear()

    for block in blocks:
        if block.kind == "heading":
            close_section()
            level = min(max(block.level, 1), 6)
            path[:] = [(entry_level, text) for entry_level, text in path if entry_level < level]
            path.append((level, block.text.strip()))
        elif not block.text.strip():
            continue
        elif block.kind == "row":
            close_section()
            for part in _row_parts(block.text.strip(), size):
                drafts.append((_cut(block.sheet or "", MAX_TITLE), part, block.page, "row"))
        else:
            section.extend(_pieces(block.text.strip(), size, block.page))
    close_section()
    return [
        Chunk(ordinal=ordinal, title=title, content=content, sha256=content_hash(title, content), page=page, kind=kind)
        for ordinal, (title, content, page, kind) in enumerate(drafts)
    ]


def _title(path: list[tuple[int, str]]) -> str:
    return _cut(TITLE_SEPARATOR.join(text for _, text in path if text), MAX_TITLE)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


# -- splitting -------------------------------------------------------------------------------------


def _pieces(paragraph: str, size: int, page: int | None) -> Iterator[_Piece]:
    """The paragraph whole if it fits, else its sentences, and the words of a sentence that does not fit."""
    if len(paragraph) <= size:
        yield _Piece(paragraph, "\n\n", page)
        return
    joint = "\n\n"
    for sentence, after in _split(paragraph, _SENTENCE_END, keep_end=True):
        for part, part_after in _words(sentence, size) if len(sentence) > size else [(sentence, after)]:
            yield _Piece(part, joint, page)
            joint = part_after
        joint = after


def _split(text: str, gap: re.Pattern[str], *, keep_end: bool) -> Iterator[tuple[str, str]]:
    """``text`` cut at each match of ``gap``: (piece, the whitespace after it, as one space or one newline).

    With ``keep_end`` the match's own text up to its group 1 (a sentence's final stop) stays with the piece.
    """
    start = 0
    for match in gap.finditer(text):
        end = match.start(1) if keep_end else match.start()
        if end > start:
            yield text[start:end], _joint(match.group(1) if keep_end else match.group())
        start = match.end()
    if start < len(text):
        yield text[start:], " "


def _joint(whitespace: str) -> str:
    return "\n" if "\n" in whitespace else " "


def _words(text: str, size: int) -> Iterator[tuple[str, str]]:
    """The words of ``text`` with the whitespace after each; a word longer than ``size`` comes in ``size`` pieces."""
    for word, after in _split(text, _WORD_GAP, keep_end=False):
        while len(word) > size:
            yield word[:size], ""
            word = word[size:]
        yield word, after


# -- packing ---------------------------------------------------------------------------------------


def _pack(pieces: Sequence[_Piece], size: int, overlap: int) -> Iterator[tuple[str, int | None]]:
    """Pieces joined into chunks of at most ``size``; each chunk after the first opens with the previous one's end."""
    content, page = "", None
    for piece in pieces:
        if not content:
            content, page = piece.text, piece.page
            continue
        if len(content) + len(piece.joint) + len(piece.text) <= size:
            content = f"{content}{piece.joint}{piece.text}"
            continue
        yield content, page
        # The overlap is context, not a copy: it never makes the new chunk longer than ``size`` nor
        # repeats more than half of a short chunk.
        room = size - len(piece.text) - len(piece.joint)
        tail = _tail(content, min(overlap, room, len(content) // 2))
        content = f"{tail}{piece.joint}{piece.text}" if tail else piece.text
        page = piece.page
    if content:
        yield content, page


def _tail(text: str, limit: int) -> str:
    """The last at most ``limit`` characters of ``text``, starting at a sentence if that keeps enough, else a word."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    window = text[-limit:]
    sentence = _SENTENCE_END.search(window)
    if sentence and len(window) - sentence.end() >= limit // 3:
        return window[sentence.end() :].strip()
    if text[-limit - 1].isspace():
        return window.strip()
    gap = _WORD_GAP.search(window)
    return window[gap.end() :].strip() if gap else ""


def _row_parts(text: str, size: int) -> Iterator[str]:
    """A row whole, unless it is longer than ``ROW_SPLIT_FACTOR`` times ``size``: then runs of its lines."""
    if len(text) <= ROW_SPLIT_FACTOR * size:
        yield text
        return
    pieces = [_Piece(part, joint, None) for line in text.split("\n") if line for part, joint in _line_parts(line, size)]
    for content, _ in _pack(pieces, size, overlap=0):
        yield content


def _line_parts(line: str, size: int) -> Iterator[tuple[str, str]]:
    """A line as one piece after a newline, or its words when it is longer than ``size``."""
    if len(line) <= size:
        yield line, "\n"
        return
    joint = "\n"
    for word, after in _words(line, size):
        yield word, joint
        joint = after
