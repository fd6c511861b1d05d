"""Translations: one gettext domain per plugin (``locale/<lang>/LC_MESSAGES/<domain>.po``) plus the kernel's.

Catalogs are read with polib; fuzzy entries are not used (the msgid shows instead), as with compiled
``.mo`` files. Languages: pt-BR (default), en, es.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import polib

__all__ = ["SUPPORTED_LANGUAGES", "Catalogs", "Translator", "negotiate_language", "translator"]

SUPPORTED_LANGUAGES = ("pt-BR", "en", "es")
KERNEL_DOMAIN = "atendai"


def _dir_name(language: str) -> str:
    return language.replace("-", "_")


@dataclass
class Catalogs:
    """msgid -> msgstr per (domain, language), loaded once at start-up."""

    messages: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def add_domain(self, domain: str, locale_dir: Path) -> None:
        for language in SUPPORTED_LANGUAGES:
            path = locale_dir / _dir_name(language) / "LC_MESSAGES" / f"{domain}.po"
            if not path.is_file():
                continue
            entries = polib.pofile(str(path))
            self.messages[(domain, language)] = {
                e.msgid: e.msgstr for e in entries if e.msgstr and not e.fuzzy and not e.obsolete
            }

    def gettext(self, domains: Iterable[str], language: str, msgid: str) -> str:
        for domain in domains:
            text = self.messages.get((domain, language), {}).get(msgid)
            if text:
                return text
        return msgid


@dataclass(frozen=True)
class Translator:
    catalogs: Catalogs
    language: str
    domains: tuple[str, ...]

    def gettext(self, msgid: str, **params: object) -> str:
        text = self.catalogs.gettext(self.domains, self.language, msgid)
        return text % params if params else text


_current: ContextVar[Translator | None] = ContextVar("atendai_translator", default=None)


def translator() -> Translator | None:
    return _current.get()


def use_translator(value: Translator) -> None:
    _current.set(value)


def negotiate_language(preferred: Iterable[str | None], accept_language: str | None, default: str) -> str:
    """The first supported language among the user's, the tenant's and the browser's choices."""
    for choice in preferred:
        match = _match(choice)
        if match:
            return match
    for part in (accept_language or "").split(","):
        match = _match(part.split(";")[0].strip())
        if match:
            return match
    return _match(default) or SUPPORTED_LANGUAGES[0]


def _match(choice: str | None) -> str | None:
    if not choice:
        return None
    lowered = choice.lower()
    for language in SUPPORTED_LANGUAGES:
        if lowered == language.lower():
            return language
    primary = lowered.split("-")[0]
    for language in SUPPORTED_LANGUAGES:
        if language.lower().split("-")[0] == primary:
            return language
    return None
