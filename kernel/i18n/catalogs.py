"""Translations: one gettext domain per plugin (``locale/<lang>/LC_MESSAGES/<domain>.po``) plus the kernel's.

A catalog is read from its compiled ``.mo`` when that file is newer than the ``.po``; otherwise the
``.po`` is compiled in memory with polib. Either way only finished translations are used: fuzzy,
obsolete and untranslated entries are left out and the msgid shows instead. Languages: pt-BR
(default), en, es. The request's :class:`Translator` lives in a context variable, so service code
can call :func:`gettext` / :func:`ngettext` without passing it around.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import polib
import structlog

__all__ = [
    "DEFAULT_LANGUAGE",
    "DEFAULT_TIMEZONE",
    "KERNEL_DOMAIN",
    "KERNEL_LOCALE_DIR",
    "N_",
    "PLURAL_FORMS",
    "SUPPORTED_LANGUAGES",
    "Catalog",
    "Catalogs",
    "Translator",
    "catalog_path",
    "context_key",
    "current_translator",
    "gettext",
    "load_catalog",
    "negotiate_language",
    "ngettext",
    "pgettext",
    "translator",
    "use_translator",
    "using_translator",
]

SUPPORTED_LANGUAGES = ("pt-BR", "en", "es")
DEFAULT_LANGUAGE = SUPPORTED_LANGUAGES[0]
DEFAULT_TIMEZONE = "America/Sao_Paulo"
KERNEL_DOMAIN = "atendai"
KERNEL_LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
PLURAL_FORMS = {
    "pt-BR": "nplurals=2; plural=(n > 1);",
    "en": "nplurals=2; plural=(n != 1);",
    "es": "nplurals=2; plural=(n != 1);",
}

_PLURAL_EXPRESSION = re.compile(r"plural\s*=\s*([^;]+)")
_FALLBACK_PLURAL = "(n != 1)"
log = structlog.get_logger("kernel.i18n")


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction without translating it (messages defined at import time)."""
    return msgid


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular/plural pair for extraction without translating it (see ``KernelError(plural=...)``)."""
    return singular, plural


def context_key(context: str, msgid: str) -> str:
    """How gettext keys a message with a context: ``context`` + EOT + ``msgid``."""
    return f"{context}\x04{msgid}"


def catalog_path(locale_dir: Path, language: str, domain: str, suffix: str = ".po") -> Path:
    """``<locale_dir>/<pt_BR>/LC_MESSAGES/<domain>.po`` (or ``.mo`` with ``suffix``)."""
    return locale_dir / language.replace("-", "_") / "LC_MESSAGES" / f"{domain}{suffix}"


# -- one catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """The finished translations of one (domain, language)."""

    messages: Mapping[str, str]
    plurals: Mapping[str, tuple[str, ...]]
    plural_index: Callable[[int], int]

    def plural(self, singular: str, n: int) -> str | None:
        forms = self.plurals.get(singular)
        if not forms:
            return None
        index = self.plural_index(n)
        return forms[index] if 0 <= index < len(forms) else forms[-1]


def load_catalog(po_path: Path) -> Catalog:
    """Read ``po_path``'s compiled ``.mo`` when it is fresh, else compile the ``.po`` in memory."""
    mo_path = po_path.with_suffix(".mo")
    if _is_fresh(mo_path, po_path):
        return _catalog_from(polib.mofile(str(mo_path)))
    # Going through the binary form keeps exactly the entries a compiled .mo would hold.
    return _catalog_from(polib.mofile(polib.pofile(str(po_path)).to_binary()))


def _is_fresh(mo_path: Path, po_path: Path) -> bool:
    return mo_path.is_file() and mo_path.stat().st_mtime_ns > po_path.stat().st_mtime_ns


def _catalog_from(compiled: polib.MOFile) -> Catalog:
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for entry in compiled:
        if not entry.msgid:
            continue
        # A context keeps apart one English word with two translations ("Active" organization/user).
        key = context_key(entry.msgctxt, entry.msgid) if entry.msgctxt else entry.msgid
        if entry.msgid_plural:
            plurals[key] = tuple(entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural))
        else:
            messages[key] = entry.msgstr
    return Catalog(messages=messages, plurals=plurals, plural_index=_plural_rule(compiled.metadata))


def _plural_rule(metadata: Mapping[str, str]) -> Callable[[int], int]:
    match = _PLURAL_EXPRESSION.search(metadata.get("Plural-Forms", ""))
    expression = match.group(1).strip() if match else _FALLBACK_PLURAL
    try:
        return stdlib_gettext.c2py(expression)
    except ValueError:
        log.warning("invalid_plural_forms", expression=expression)
        return stdlib_gettext.c2py(_FALLBACK_PLURAL)


# -- every catalog ----------------------------------------------------------------------------


@dataclass
class Catalogs:
    """Catalogs per (domain, language), loaded once at start-up."""

    loaded: dict[tuple[str, str], Catalog] = field(default_factory=dict)

    def add_domain(self, domain: str, locale_dir: Path) -> None:
        for language in SUPPORTED_LANGUAGES:
            path = catalog_path(locale_dir, language, domain)
            if path.is_file():
                self.loaded[(domain, language)] = load_catalog(path)

    def gettext(self, domains: Iterable[str], language: str, msgid: str) -> str:
        """The first domain's translation of ``msgid``, else ``msgid`` itself."""
        for catalog in self._catalogs(domains, language):
            text = catalog.messages.get(msgid)
            if text:
                return text
        return msgid

    def pgettext(self, domains: Iterable[str], language: str, context: str, msgid: str) -> str:
        """``msgid`` as translated in ``context`` (``"organization status"``), else ``msgid`` itself."""
        key = context_key(context, msgid)
        for catalog in self._catalogs(domains, language):
            text = catalog.messages.get(key)
            if text:
                return text
        return msgid

    def ngettext(self, domains: Iterable[str], language: str, singular: str, plural: str, n: int) -> str:
        """The form of ``singular`` for ``n`` in the first domain that has it, else English's rule."""
        for catalog in self._catalogs(domains, language):
            text = catalog.plural(singular, n)
            if text:
                return text
        return singular if n == 1 else plural

    def _catalogs(self, domains: Iterable[str], language: str) -> Iterator[Catalog]:
        supported = _match(language) or language
        for domain in domains:
            catalog = self.loaded.get((domain, supported))
            if catalog is not None:
                yield catalog


# -- the current translator -------------------------------------------------------------------


@dataclass(frozen=True)
class Translator:
    """A language, the domains to look in (first wins) and the tenant's time zone."""

    catalogs: Catalogs
    language: str
    domains: tuple[str, ...]
    timezone: str = DEFAULT_TIMEZONE

    def gettext(self, msgid: str, **params: object) -> str:
        """``msgid`` translated; ``%(name)s`` placeholders filled from ``params`` when given."""
        text = self.catalogs.gettext(self.domains, self.language, msgid)
        return _interpolate(text, msgid, params) if params else text

    def pgettext(self, context: str, msgid: str, **params: object) -> str:
        """``msgid`` translated in ``context``; placeholders filled from ``params`` when given."""
        text = self.catalogs.pgettext(self.domains, self.language, context, msgid)
        return _interpolate(text, msgid, params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        """The plural form for ``n``, filled from ``params`` (``num`` is ``n`` unless given)."""
        text = self.catalogs.ngettext(self.domains, self.language, singular, plural, n)
        source = singular if n == 1 else plural
        return _interpolate(text, source, {"num": n, **params})


def _interpolate(text: str, source: str, params: Mapping[str, object]) -> str:
    try:
        return text % params
    except (KeyError, ValueError, TypeError):
        # A broken translation must not break the page: fall back to the source text.
        log.warning("translation_format_failed", msgid=source)
        return source % params


_UNTRANSLATED = Translator(catalogs=Catalogs(), language=DEFAULT_LANGUAGE, domains=())
_current: ContextVar[Translator | None] = ContextVar("atendai_translator", default=None)


def translator() -> Translator | None:
    """The translator set for this request or task, if any."""
    return _current.get()


def current_translator() -> Translator:
    """The translator set for this request or task, else one that shows msgids in the default language."""
    return _current.get() or _UNTRANSLATED


def reset_translator() -> Token[Translator | None]:
    """Start a unit of work (a request) with no translator; pair with :func:`restore_translator`."""
    return _current.set(None)


def restore_translator(token: Token[Translator | None]) -> None:
    _current.reset(token)


def use_translator(value: Translator) -> Token[Translator | None]:
    """Make ``value`` the current translator (for the rest of this context)."""
    return _current.set(value)


@contextmanager
def using_translator(value: Translator) -> Iterator[Translator]:
    """Make ``value`` the current translator inside a ``with`` block (jobs, tests)."""
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def gettext(msgid: str, **params: object) -> str:
    """``msgid`` in the current translator's language (service code outside templates)."""
    return current_translator().gettext(msgid, **params)


def pgettext(context: str, msgid: str, **params: object) -> str:
    """``msgid`` in ``context``, in the current translator's language."""
    return current_translator().pgettext(context, msgid, **params)


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    """The plural form for ``n`` in the current translator's language."""
    return current_translator().ngettext(singular, plural, n, **params)


# -- negotiation ------------------------------------------------------------------------------


def negotiate_language(preferred: Iterable[str | None], accept_language: str | None, default: str) -> str:
    """The first supported language among the user's, the tenant's and the browser's choices."""
    for choice in preferred:
        match = _match(choice)
        if match:
            return match
    for choice in _accepted(accept_language):
        match = _match(choice)
        if match:
            return match
    return _match(default) or DEFAULT_LANGUAGE


def _accepted(header: str | None) -> list[str]:
    """The ``Accept-Language`` tags by descending quality (ties keep their order), ``q=0`` left out."""
    weighted: list[tuple[float, str]] = []
    for part in (header or "").split(","):
        tag, _, params = part.partition(";")
        quality = _quality(params)
        if tag.strip() and quality > 0:
            weighted.append((quality, tag.strip()))
    return [tag for _quality_value, tag in sorted(weighted, key=lambda item: -item[0])]


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


@lru_cache(maxsize=256)
def _match(choice: str | None) -> str | None:
    if not choice:
        return None
    lowered = choice.strip().replace("_", "-").lower()
    for language in SUPPORTED_LANGUAGES:
        if lowered == language.lower():
            return language
    primary = lowered.split("-")[0]
    for language in SUPPORTED_LANGUAGES:
        if language.lower().split("-")[0] == primary:
            return language
    return None
