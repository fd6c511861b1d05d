"""What the ``i18n`` commands do: extract messages, update and compile catalogs, check them.

Messages come from Python (``_``, ``gettext``, ``ngettext``, ``pgettext``, ``N_``), Jinja templates (the
same functions and ``{% trans %}``) and a plugin's ``plugin.toml`` (its ``title`` and ``description``).
Each domain keeps a template ``<locale_dir>/<domain>.pot`` and one ``.po`` per language.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

import polib
from babel.messages.catalog import Catalog as MessageCatalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import write_po
from jinja2.ext import babel_extract

import webui
from kernel import __version__
from kernel.i18n.catalogs import (
    KERNEL_DOMAIN,
    KERNEL_LOCALE_DIR,
    PLURAL_FORMS,
    SUPPORTED_LANGUAGES,
    catalog_path,
)
from kernel.plugins.manager import PluginManager

__all__ = [
    "KEYWORDS",
    "CatalogSource",
    "check",
    "collect",
    "compile",
    "discovered_catalogs",
    "extract",
    "kernel_and_plugin_catalogs",
    "kernel_catalog",
    "message_keys",
    "plugin_catalog",
    "update",
]

KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "N_": None,
    "N_plural": (1, 2),
}
# The detail (first argument) of the kernel's typed errors is a msgid too: ``raise NotFound("...")``.
ERROR_CLASSES = (
    "KernelError",
    "NotFound",
    "Forbidden",
    "Conflict",
    "ValidationFailed",
    "QuotaExceeded",
    "ProviderError",
    "PluginDisabled",
    "MissingPermission",
    "CsrfFailed",
    "InvalidCredentials",
    "InvalidToken",
    "TooManyAttempts",
)
KEYWORDS.update(dict.fromkeys(ERROR_CLASSES, (1,)))
COMMENT_TAGS = ("Translators:",)
SOURCE_LANGUAGE = "en"
MANIFEST = "plugin.toml"
MANIFEST_MESSAGES = ("title", "description")
TEMPLATE_SUFFIXES = frozenset({".html", ".jinja", ".j2"})
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "static", "locale"})
# Template syntax errors must stop extraction rather than silently drop a template's messages.
JINJA_OPTIONS = {"silent": "false"}
_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<kind>[a-zA-Z%])")


class CatalogSource(NamedTuple):
    """One gettext domain: where its catalogs live and which folders its messages come from."""

    domain: str
    locale_dir: Path
    source_dirs: tuple[Path, ...]

    @property
    def pot_path(self) -> Path:
        return self.locale_dir / f"{self.domain}.pot"


# -- which catalogs ---------------------------------------------------------------------------


def kernel_catalog() -> CatalogSource:
    return CatalogSource(KERNEL_DOMAIN, KERNEL_LOCALE_DIR, (KERNEL_LOCALE_DIR.parent, webui.TEMPLATES_DIR))


def plugin_catalog(name: str, path: Path) -> CatalogSource:
    return CatalogSource(name, path / "locale", (path,))


def kernel_and_plugin_catalogs(kernel: Any) -> list[CatalogSource]:
    """The kernel's catalog and one per loaded plugin (the plugin's name is its domain)."""
    plugins = [plugin_catalog(name, loaded.path) for name, loaded in kernel.plugins.plugins.items() if loaded.path]
    return [kernel_catalog(), *plugins]


def discovered_catalogs() -> list[CatalogSource]:
    """The kernel's catalog and one per installed plugin, found without importing plugin code."""
    plugins = [plugin_catalog(c.name, c.path) for c in PluginManager.discover(None) if c.path]
    return [kernel_catalog(), *sorted(plugins)]


# -- extract ----------------------------------------------------------------------------------


def collect(domain: str, source_dirs: Sequence[Path]) -> MessageCatalog:
    """Every translatable message under ``source_dirs``, with where it appears."""
    catalog = MessageCatalog(
        domain=domain,
        header_comment=f"# Messages of the {domain!r} domain. Made by `python -m kernel.i18n extract`; do not edit.",
        project="Atendai",
        version=__version__,
        copyright_holder="Atendai contributors",
        charset="utf-8",
    )
    base = _common_base(source_dirs)
    for path in _source_files(source_dirs):
        method = _method_for(path)
        location = path.relative_to(base).as_posix()
        for lineno, message, comments, context in extract_from_file(
            method, path, keywords=KEYWORDS, comment_tags=COMMENT_TAGS, options=_options_for(path)
        ):
            catalog.add(message, locations=[(location, lineno)], auto_comments=comments, context=context)
    return catalog


def extract(domain: str, source_dirs: Sequence[Path], output_pot: Path) -> MessageCatalog:
    """Write the domain's template (``.pot``) from its sources; returns the messages."""
    catalog = collect(domain, source_dirs)
    output_pot.parent.mkdir(parents=True, exist_ok=True)
    with output_pot.open("wb") as out:
        write_po(out, catalog, width=100)
    return catalog


def message_keys(catalog: MessageCatalog) -> set[str]:
    """The msgids of ``catalog`` as polib names them (context joined with ``\\x04``)."""
    keys = set()
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        keys.add(f"{message.context}\x04{msgid}" if message.context else msgid)
    return keys


def _common_base(source_dirs: Sequence[Path]) -> Path:
    """Locations are written relative to this, so they read ``kernel/app.py``, ``webui/templates/base.html``."""
    return Path(os.path.commonpath([directory.resolve().parent for directory in source_dirs]))


def _source_files(source_dirs: Sequence[Path]) -> Iterator[Path]:
    for directory in source_dirs:
        root = directory.resolve()
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root).parts
            if any(part.startswith(".") or part in SKIPPED_DIRS for part in relative[:-1]):
                continue
            if path.is_file() and _method_for(path) is not None:
                yield path


def _method_for(path: Path) -> Any:
    if path.name == MANIFEST:
        return extract_manifest
    if path.suffix == ".py":
        return "python"
    if path.suffix in TEMPLATE_SUFFIXES:
        return babel_extract
    return None


def _options_for(path: Path) -> dict[str, str]:
    return JINJA_OPTIONS if path.suffix in TEMPLATE_SUFFIXES else {}


def extract_manifest(
    fileobj: IO[bytes], keywords: Iterable[str], comment_tags: Iterable[str], options: dict[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extractor for ``plugin.toml``: the module's ``title`` and ``description``."""
    text = fileobj.read().decode("utf-8")
    manifest = tomllib.loads(text)
    for key in MANIFEST_MESSAGES:
        value = manifest.get(key)
        if isinstance(value, str) and value:
            yield _line_of(text, key), None, value, [f"Module {key} ({MANIFEST})"]


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.split("=")[0].strip() == key:
            return number
    return 1


# -- update -----------------------------------------------------------------------------------


def update(domain: str, locale_dir: Path, pot: Path) -> list[Path]:
    """Merge the template into each language's ``.po``: new messages come in untranslated, gone ones obsolete.

    Nothing is guessed: no fuzzy matching. English is the source language, so its new entries take the msgid.
    """
    template = polib.pofile(str(pot))
    written = []
    for language in SUPPORTED_LANGUAGES:
        path = catalog_path(locale_dir, language, domain)
        po = polib.pofile(str(path), wrapwidth=100) if path.is_file() else _new_po(domain, language)
        po.merge(template)
        _set_headers(po, language)
        if language == SOURCE_LANGUAGE:
            _copy_source_text(po)
        path.parent.mkdir(parents=True, exist_ok=True)
        po.save(str(path))
        written.append(path)
    return written


def _new_po(domain: str, language: str) -> polib.POFile:
    po = polib.POFile(wrapwidth=100)
    po.header = f"{language} messages of the {domain!r} domain."
    po.metadata = {
        "Project-Id-Version": f"{domain} {__version__}",
        "PO-Revision-Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M%z"),
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    return po


def _set_headers(po: polib.POFile, language: str) -> None:
    po.metadata["Language"] = language.replace("-", "_")
    po.metadata.setdefault("Plural-Forms", PLURAL_FORMS[language])


def _copy_source_text(po: polib.POFile) -> None:
    for entry in po:
        if entry.obsolete or entry.fuzzy:
            continue
        if entry.msgid_plural and not any(entry.msgstr_plural.values()):
            entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
        elif not entry.msgid_plural and not entry.msgstr:
            entry.msgstr = entry.msgid


# -- compile ----------------------------------------------------------------------------------


def compile(locale_dir: Path) -> list[Path]:
    """Write a ``.mo`` beside every ``.po`` under ``locale_dir`` (fuzzy and untranslated entries left out)."""
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


# -- check ------------------------------------------------------------------------------------


def check(locale_dir: Path, domain: str, expected: Iterable[str] = ()) -> list[str]:
    """Problems with a domain's catalogs; empty when every language is complete and clean.

    Reported: a missing language file, a wrong ``Language`` header, plural messages without
    ``Plural-Forms``, untranslated or fuzzy entries, placeholders that differ between msgid and
    msgstr, and msgids of the ``.pot`` (plus ``expected``) that a ``.po`` lacks.
    """
    wanted = _template_keys(locale_dir / f"{domain}.pot") | set(expected)
    problems: list[str] = []
    for language in SUPPORTED_LANGUAGES:
        path = catalog_path(locale_dir, language, domain)
        if not path.is_file():
            problems.append(f"{path}: missing ({language} catalog)")
            continue
        problems.extend(_check_po(path, language, wanted))
    return problems


def _template_keys(pot: Path) -> set[str]:
    if not pot.is_file():
        return set()
    return {entry.msgid_with_context for entry in polib.pofile(str(pot)) if not entry.obsolete}


def _check_po(path: Path, language: str, wanted: set[str]) -> list[str]:
    po = polib.pofile(str(path))
    current = [entry for entry in po if not entry.obsolete]
    problems = [f"{path}: {problem}" for problem in _header_problems(po, language, current)]
    for entry in current:
        problem = _entry_problem(entry)
        if problem:
            problems.append(f"{path}: {problem}: {entry.msgid!r}")
    present = {entry.msgid_with_context for entry in current}
    problems.extend(f"{path}: missing message: {key!r}" for key in sorted(wanted - present))
    return problems


def _header_problems(po: polib.POFile, language: str, entries: list[polib.POEntry]) -> list[str]:
    problems = []
    declared = po.metadata.get("Language", "").replace("_", "-").lower()
    if declared != language.lower():
        problems.append(f"Language header is {po.metadata.get('Language')!r}, expected {language!r}")
    if any(entry.msgid_plural for entry in entries) and "plural=" not in po.metadata.get("Plural-Forms", ""):
        problems.append("plural messages but no Plural-Forms header")
    return problems


def _entry_problem(entry: polib.POEntry) -> str | None:
    if entry.fuzzy:
        return "fuzzy"
    if not entry.translated():
        return "untranslated"
    if _is_python_format(entry) and not _same_placeholders(entry):
        return "placeholders differ"
    return None


def _is_python_format(entry: polib.POEntry) -> bool:
    return "python-format" in entry.flags or "%(" in entry.msgid


def _same_placeholders(entry: polib.POEntry) -> bool:
    if not entry.msgid_plural:
        return _placeholders(entry.msgstr) == _placeholders(entry.msgid)
    expected = _placeholders(entry.msgid) | _placeholders(entry.msgid_plural)
    return all(_placeholders(text) == expected for text in entry.msgstr_plural.values())


def _placeholders(text: str) -> frozenset[tuple[str, str]]:
    """``(name, conversion)`` pairs; positional placeholders are named by their order (``#0``, ``#1``)."""
    matches = [match for match in _PLACEHOLDER.finditer(text) if match.group("kind") != "%"]
    return frozenset(
        (match.group("name") or f"#{position}", match.group("kind")) for position, match in enumerate(matches)
    )
