"""``i18n``: extract messages, update and compile catalogs, check them. No database needed.

Every command works on the kernel's catalog and every installed plugin's unless ``--domain`` picks some.
Run it as ``python -m kernel.i18n <command>`` (or ``atendai i18n <command>``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from kernel.i18n import tools
from kernel.i18n.tools import CatalogSource
from kernel.plugins.manager import PluginLoadError

__all__ = ["i18n"]

F = TypeVar("F", bound=Callable[..., Any])


def _domain_option(command: F) -> F:
    return click.option(
        "--domain",
        "domains",
        multiple=True,
        metavar="NAME",
        help="Only this domain: 'atendai' for the kernel, a plugin's name for a plugin. Repeatable.",
    )(command)


def _selected(domains: tuple[str, ...]) -> list[CatalogSource]:
    try:
        catalogs = tools.discovered_catalogs()
    except PluginLoadError as exc:
        raise click.ClickException(str(exc)) from exc
    if not domains:
        return catalogs
    unknown = sorted(set(domains) - {source.domain for source in catalogs})
    if unknown:
        raise click.ClickException(f"unknown domain: {', '.join(unknown)}")
    return [source for source in catalogs if source.domain in domains]


@click.group()
def i18n() -> None:
    """Translation catalogs (gettext .po/.mo per plugin; languages pt-BR, en, es)."""


@i18n.command("extract")
@_domain_option
def extract_command(domains: tuple[str, ...]) -> None:
    """Write each domain's template (<locale>/<domain>.pot) from its sources."""
    for source in _selected(domains):
        catalog = tools.extract(source.domain, source.source_dirs, source.pot_path)
        click.echo(f"{source.pot_path}: {len(catalog)} messages")


@i18n.command("update")
@_domain_option
def update_command(domains: tuple[str, ...]) -> None:
    """Extract, then merge new messages (untranslated) into each language's .po."""
    for source in _selected(domains):
        tools.extract(source.domain, source.source_dirs, source.pot_path)
        for path in tools.update(source.domain, source.locale_dir, source.pot_path):
            click.echo(f"{path}: updated")


@i18n.command("compile")
@_domain_option
def compile_command(domains: tuple[str, ...]) -> None:
    """Write a .mo beside every .po (a folder that cannot be written is skipped with a warning)."""
    for source in _selected(domains):
        if not source.locale_dir.is_dir():
            continue
        try:
            written = tools.compile(source.locale_dir)
        except OSError as exc:
            # The app still works: it compiles the .po in memory when no fresh .mo is found.
            click.echo(f"warning: {source.locale_dir}: {exc}", err=True)
            continue
        for path in written:
            click.echo(f"{path}: compiled")


@i18n.command("check")
@_domain_option
def check_command(domains: tuple[str, ...]) -> None:
    """Fail when a catalog lacks a message of the sources or has an untranslated or fuzzy entry."""
    problems: list[str] = []
    for source in _selected(domains):
        expected = tools.message_keys(tools.collect(source.domain, source.source_dirs))
        problems.extend(tools.check(source.locale_dir, source.domain, expected))
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} translation problem(s)")
    click.echo("catalogs complete")
