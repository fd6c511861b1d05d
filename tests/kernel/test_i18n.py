"""Translations: complete catalogs, language negotiation, plurals, locale formatting, compiled catalogs."""

from __future__ import annotations

import contextvars
import gettext as stdlib_gettext
import os
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polib
import pytest
from click.testing import CliRunner
from jinja2 import DictLoader, Environment

from kernel.config import load_settings
from kernel.i18n import tools
from kernel.i18n.catalogs import (
    KERNEL_DOMAIN,
    KERNEL_LOCALE_DIR,
    N_,
    SUPPORTED_LANGUAGES,
    Catalogs,
    Translator,
    catalog_path,
    gettext,
    load_catalog,
    negotiate_language,
    ngettext,
    translator,
    using_translator,
)
from kernel.i18n.cli import i18n
from kernel.i18n.formatting import (
    format_date,
    format_datetime,
    format_decimal,
    format_money,
    format_number,
    format_percent,
    install_jinja_i18n,
)
from kernel.runtime import build_kernel

PLURAL = ("Try again in %(minutes)d minute.", "Try again in %(minutes)d minutes.")


@pytest.fixture(scope="module")
def catalog_sources() -> list[tools.CatalogSource]:
    kernel = build_kernel(load_settings(env_file=None, secret_key="x"))
    return tools.kernel_and_plugin_catalogs(kernel)


@pytest.fixture(scope="module")
def kernel_catalogs() -> Catalogs:
    catalogs = Catalogs()
    catalogs.add_domain(KERNEL_DOMAIN, KERNEL_LOCALE_DIR)
    return catalogs


def kernel_translator(catalogs: Catalogs, language: str, timezone: str = "America/Sao_Paulo") -> Translator:
    return Translator(catalogs=catalogs, language=language, domains=(KERNEL_DOMAIN,), timezone=timezone)


def copy_kernel_locale(tmp_path: Path) -> Path:
    return Path(shutil.copytree(KERNEL_LOCALE_DIR, tmp_path / "locale", ignore=shutil.ignore_patterns("*.mo")))


def edit_po(locale_dir: Path, language: str, change) -> None:
    path = catalog_path(locale_dir, language, KERNEL_DOMAIN)
    po = polib.pofile(str(path))
    change(po)
    po.save(str(path))


# -- completeness -----------------------------------------------------------------------------


def test_the_kernel_and_every_loaded_plugin_have_complete_catalogs(catalog_sources, tmp_path):
    assert {source.domain for source in catalog_sources} >= {KERNEL_DOMAIN, "example"}
    problems: list[str] = []
    for source in catalog_sources:
        extracted = tools.message_keys(
            tools.extract(source.domain, source.source_dirs, tmp_path / f"{source.domain}.pot")
        )
        for language in SUPPORTED_LANGUAGES:
            path = catalog_path(source.locale_dir, language, source.domain)
            present = (
                {e.msgid_with_context for e in polib.pofile(str(path)) if not e.obsolete} if path.is_file() else set()
            )
            problems.extend(f"{path}: missing {msgid!r}" for msgid in sorted(extracted - present))
        problems.extend(tools.check(source.locale_dir, source.domain, extracted))
    assert problems == []


def test_check_reports_a_fuzzy_entry_a_missing_entry_and_a_placeholder_mismatch(tmp_path):
    locale_dir = copy_kernel_locale(tmp_path)
    assert tools.check(locale_dir, KERNEL_DOMAIN) == []

    def fuzzy_and_missing(po: polib.POFile) -> None:
        po.find("Not found").flags.append("fuzzy")
        po.remove(po.find("Conflict"))

    def wrong_placeholder(po: polib.POFile) -> None:
        entry = po.find("The module %(plugin)s is not enabled for this organization.")
        entry.msgstr = "El módulo %(module)s no está activado para esta empresa."

    edit_po(locale_dir, "pt-BR", fuzzy_and_missing)
    edit_po(locale_dir, "es", wrong_placeholder)

    problems = tools.check(locale_dir, KERNEL_DOMAIN)
    assert any("pt_BR" in p and "fuzzy" in p and "'Not found'" in p for p in problems)
    assert any("pt_BR" in p and "missing message" in p and "'Conflict'" in p for p in problems)
    assert any("/es/" in p and "placeholders differ" in p for p in problems)
    assert len(problems) == 3


def test_check_reports_an_untranslated_entry_and_a_missing_language(tmp_path):
    locale_dir = copy_kernel_locale(tmp_path)
    edit_po(locale_dir, "es", lambda po: setattr(po.find("Not found"), "msgstr", ""))
    catalog_path(locale_dir, "en", KERNEL_DOMAIN).unlink()

    problems = tools.check(locale_dir, KERNEL_DOMAIN)

    assert any("/es/" in p and "untranslated" in p and "'Not found'" in p for p in problems)
    assert any("/en/" in p and "missing (en catalog)" in p for p in problems)


def test_a_new_message_in_a_template_or_manifest_is_missing_until_update_brings_it_in(tmp_path):
    plugin = tmp_path / "atendai_demo"
    (plugin / "templates" / "demo").mkdir(parents=True)
    (plugin / "plugin.toml").write_text('name = "demo"\ntitle = "Demo"\ndescription = "A demo module."\n')
    (plugin / "templates" / "demo" / "page.html").write_text(
        "<h1>{{ _('Hello %(name)s', name=user) }}</h1>{% trans %}Welcome back{% endtrans %}"
        "{{ ngettext('%(num)d note', '%(num)d notes', count) }}"
    )
    (plugin / "services.py").write_text("from kernel.i18n.catalogs import N_, gettext\nTITLE = N_('Saved')\n")
    source = tools.plugin_catalog("demo", plugin)

    extracted = tools.message_keys(tools.extract(source.domain, source.source_dirs, source.pot_path))
    assert extracted == {"Demo", "A demo module.", "Hello %(name)s", "Welcome back", "%(num)d note", "Saved"}
    assert any("missing (pt-BR catalog)" in p for p in tools.check(source.locale_dir, "demo", extracted))

    tools.update(source.domain, source.locale_dir, source.pot_path)
    problems = tools.check(source.locale_dir, "demo", extracted)

    assert not any("/en/" in p for p in problems), "English takes the msgid as its translation"
    assert sum("untranslated" in p for p in problems) == 2 * len(extracted)  # pt-BR and es
    assert not any("fuzzy" in p for p in problems)


def test_update_keeps_translations_and_marks_vanished_messages_obsolete(tmp_path):
    locale_dir = copy_kernel_locale(tmp_path)
    pot = polib.pofile(str(KERNEL_LOCALE_DIR / f"{KERNEL_DOMAIN}.pot"))
    pot.remove(pot.find("Conflict"))
    pot.save(str(locale_dir / "smaller.pot"))

    tools.update(KERNEL_DOMAIN, locale_dir, locale_dir / "smaller.pot")

    po = polib.pofile(str(catalog_path(locale_dir, "pt-BR", KERNEL_DOMAIN)))
    assert po.find("Not found").msgstr == "Não encontrado"
    assert po.find("Conflict", include_obsolete_entries=True).obsolete


def test_the_i18n_command_checks_every_catalog_without_a_database():
    result = CliRunner().invoke(i18n, ["check"])
    assert result.exit_code == 0, result.output
    unknown = CliRunner().invoke(i18n, ["check", "--domain", "nope"])
    assert unknown.exit_code != 0 and "unknown domain: nope" in unknown.output


# -- negotiation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "tenant", "accept", "expected"),
    [
        ("es", "en", "pt-BR", "es"),
        (None, "en", "es", "en"),
        (None, None, "es-AR,es;q=0.9,en;q=0.8", "es"),
        (None, None, "de-DE, en-US;q=0.5, es;q=0.9", "es"),
        (None, None, "pt-PT", "pt-BR"),
        ("pt_BR", None, None, "pt-BR"),
        (None, None, "es;q=0, en;q=0.2", "en"),
        (None, None, "fr, de;q=0.8", "pt-BR"),
        (None, None, None, "pt-BR"),
        ("klingon", "xx", "*", "pt-BR"),
    ],
)
def test_language_comes_from_the_user_then_the_tenant_then_the_browser(user, tenant, accept, expected):
    assert negotiate_language([user, tenant], accept, "pt-BR") == expected


def test_an_unsupported_default_falls_back_to_pt_br():
    assert negotiate_language([], None, "fr") == "pt-BR"
    assert negotiate_language([], None, "en-GB") == "en"


# -- messages and plurals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("pt-BR", ["Tente novamente em 0 minuto.", "Tente novamente em 1 minuto.", "Tente novamente em 2 minutos."]),
        ("en", ["Try again in 0 minutes.", "Try again in 1 minute.", "Try again in 2 minutes."]),
        (
            "es",
            [
                "Vuelve a intentarlo en 0 minutos.",
                "Vuelve a intentarlo en 1 minuto.",
                "Vuelve a intentarlo en 2 minutos.",
            ],
        ),
    ],
)
def test_plural_forms_follow_each_language(kernel_catalogs, language, expected):
    t = kernel_translator(kernel_catalogs, language)
    assert [t.ngettext(*PLURAL, n, minutes=n) for n in (0, 1, 2)] == expected


def test_outside_any_request_service_code_shows_the_source_text():
    def outside_any_request() -> None:
        assert translator() is None
        assert gettext("Not found") == "Not found"
        assert gettext("The module %(plugin)s is not enabled for this organization.", plugin="crm") == (
            "The module crm is not enabled for this organization."
        )
        assert ngettext(*PLURAL, 3, minutes=3) == "Try again in 3 minutes."

    contextvars.Context().run(outside_any_request)


def test_service_code_translates_through_the_current_translator(kernel_catalogs):
    with using_translator(kernel_translator(kernel_catalogs, "es")):
        assert gettext("Not found") == "No encontrado"
        assert gettext("The module %(plugin)s is not enabled for this organization.", plugin="crm") == (
            "El módulo crm no está activado para esta empresa."
        )
        assert ngettext(*PLURAL, 1, minutes=1) == "Vuelve a intentarlo en 1 minuto."
        assert gettext("A message nobody translated") == "A message nobody translated"


def test_n_marks_without_translating(kernel_catalogs):
    with using_translator(kernel_translator(kernel_catalogs, "pt-BR")):
        title = N_("Invalid input")
        assert title == "Invalid input"
        assert gettext(title) == "Entrada inválida"


def test_a_plugin_domain_wins_over_the_kernel_and_falls_back_to_it(tmp_path, kernel_catalogs):
    plugin_locale = tmp_path / "locale"
    path = catalog_path(plugin_locale, "pt-BR", "crm")
    path.parent.mkdir(parents=True)
    po = polib.POFile()
    po.metadata = {"Language": "pt_BR", "Content-Type": "text/plain; charset=UTF-8"}
    po.append(polib.POEntry(msgid="Not found", msgstr="Negócio não encontrado"))
    po.save(str(path))
    kernel_catalogs_copy = Catalogs(loaded=dict(kernel_catalogs.loaded))
    kernel_catalogs_copy.add_domain("crm", plugin_locale)
    t = Translator(catalogs=kernel_catalogs_copy, language="pt-BR", domains=("crm", KERNEL_DOMAIN))

    assert t.gettext("Not found") == "Negócio não encontrado"
    assert t.gettext("Invalid input") == "Entrada inválida"


def test_a_broken_translation_shows_the_source_text_instead_of_failing(tmp_path):
    locale_dir = copy_kernel_locale(tmp_path)
    edit_po(
        locale_dir,
        "es",
        lambda po: setattr(po.find("The module %(plugin)s is not enabled for this organization."), "msgstr", "%(x)s"),
    )
    catalogs = Catalogs()
    catalogs.add_domain(KERNEL_DOMAIN, locale_dir)
    t = kernel_translator(catalogs, "es")

    assert t.gettext("The module %(plugin)s is not enabled for this organization.", plugin="crm") == (
        "The module crm is not enabled for this organization."
    )


def test_templates_translate_pluralize_and_escape(kernel_catalogs):
    env = Environment(
        loader=DictLoader(
            {
                "page.html": (
                    "<nav aria-label=\"{{ _('Main navigation') }}\"></nav>"
                    "<p>{{ ngettext('Try again in %(minutes)d minute.', 'Try again in %(minutes)d minutes.', n,"
                    " minutes=n) }}</p>"
                    "<p>{{ _('The module %(plugin)s is not enabled for this organization.', plugin=name) }}</p>"
                    "<p>{% trans %}Not found{% endtrans %}</p>"
                )
            }
        ),
        autoescape=True,
    )
    install_jinja_i18n(env)

    with using_translator(kernel_translator(kernel_catalogs, "pt-BR")):
        html = env.get_template("page.html").render(n=2, name="<b>crm</b>")

    assert 'aria-label="Navegação principal"' in html
    assert "<p>Tente novamente em 2 minutos.</p>" in html
    assert "O módulo &lt;b&gt;crm&lt;/b&gt; não está ativado para esta empresa." in html
    assert "<p>Não encontrado</p>" in html


# -- formatting -------------------------------------------------------------------------------

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("language", "currency", "expected"),
    [
        ("pt-BR", "BRL", f"R${NBSP}1.234,56"),
        ("en", "BRL", "R$1,234.56"),
        ("en", "USD", "$1,234.56"),
        ("es", "EUR", f"1.234,56{NBSP}€"),
        ("pt-BR", "JPY", f"JP¥{NBSP}123.456"),
    ],
)
def test_money_is_integer_cents_shown_per_locale(language, currency, expected):
    assert format_money(123456, currency, language=language) == expected


def test_numbers_and_percentages_follow_the_locale():
    assert format_number(1234567.891, language="pt-BR") == "1.234.567,891"
    assert format_number(1234567.891, language="en") == "1,234,567.891"
    assert format_decimal(Decimal("1234.5"), language="pt-BR") == "1.234,50"
    assert format_decimal(1234.5, 1, language="en") == "1,234.5"
    assert format_percent(0.125, 1, language="pt-BR") == "12,5%"
    assert format_percent(0.125, 1, language="es") == f"12,5{NBSP}%"
    assert format_percent(0.25, language="en") == "25%"


def test_dates_are_shown_in_the_tenants_time_zone_and_language():
    late_evening_in_sao_paulo = datetime(2025, 3, 5, 2, 30, tzinfo=UTC)

    assert format_datetime(late_evening_in_sao_paulo, "short", language="pt-BR", timezone="America/Sao_Paulo") == (
        "04/03/2025 23:30"
    )
    assert format_datetime(late_evening_in_sao_paulo, "short", language="es", timezone="Europe/Madrid") == (
        "5/3/25, 3:30"
    )
    assert format_date(late_evening_in_sao_paulo, "long", language="pt-BR", timezone="America/Sao_Paulo") == (
        "4 de março de 2025"
    )
    assert format_date(date(2025, 3, 5), language="en") == "Mar 5, 2025"


def test_formatting_defaults_to_the_current_translators_language_and_time_zone(kernel_catalogs):
    moment = datetime(2025, 12, 31, 23, 30)  # naive counts as UTC
    with using_translator(kernel_translator(kernel_catalogs, "es", timezone="Asia/Tokyo")):
        assert format_date(moment, "short") == "1/1/26"
        assert format_money(990, "BRL") == f"9,90{NBSP}BRL"
    with using_translator(kernel_translator(kernel_catalogs, "pt-BR", timezone="America/Sao_Paulo")):
        assert format_date(moment, "short") == "31/12/2025"


def test_jinja_filters_format_in_the_current_language(kernel_catalogs):
    env = Environment(
        loader=DictLoader({"t.html": "{{ cents|format_money('BRL') }} {{ at|format_datetime('short') }}"})
    )
    install_jinja_i18n(env)
    with using_translator(kernel_translator(kernel_catalogs, "pt-BR")):
        text = env.get_template("t.html").render(cents=123456, at=datetime(2025, 3, 5, 2, 30, tzinfo=UTC))
    assert text == f"R${NBSP}1.234,56 04/03/2025 23:30"


# -- compiled catalogs ------------------------------------------------------------------------


def test_compiled_catalogs_give_the_same_strings_and_leave_fuzzy_entries_out(tmp_path):
    locale_dir = copy_kernel_locale(tmp_path)
    edit_po(locale_dir, "pt-BR", lambda po: po.find("Forbidden").flags.append("fuzzy"))
    po_path = catalog_path(locale_dir, "pt-BR", KERNEL_DOMAIN)
    from_po = load_catalog(po_path)

    written = tools.compile(locale_dir)

    mo_path = po_path.with_suffix(".mo")
    assert mo_path in written and len(written) == len(SUPPORTED_LANGUAGES)
    from_mo = load_catalog(po_path)
    assert from_mo.messages == from_po.messages and from_mo.plurals == from_po.plurals
    assert "Forbidden" not in from_mo.messages
    assert from_mo.messages["Not found"] == "Não encontrado"
    standard = stdlib_gettext.GNUTranslations(mo_path.open("rb"))
    assert standard.gettext("Forbidden") == "Forbidden"
    assert standard.ngettext(*PLURAL, 2) == "Tente novamente em %(minutes)d minutos."


def test_a_fresh_mo_is_read_and_a_stale_one_is_ignored(tmp_path):
    locale_dir = copy_kernel_locale(tmp_path)
    po_path = catalog_path(locale_dir, "pt-BR", KERNEL_DOMAIN)
    edit_po(locale_dir, "pt-BR", lambda po: setattr(po.find("Not found"), "msgstr", "Compilado"))
    tools.compile(locale_dir)
    edit_po(locale_dir, "pt-BR", lambda po: setattr(po.find("Not found"), "msgstr", "Editado depois"))
    mo_path = po_path.with_suffix(".mo")

    stat = po_path.stat()
    os.utime(mo_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_catalog(po_path).messages["Not found"] == "Compilado"

    os.utime(mo_path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 1_000_000_000))
    assert load_catalog(po_path).messages["Not found"] == "Editado depois"


def test_a_context_keeps_one_english_word_with_two_translations(tmp_path):
    locale_dir = tmp_path / "locale"
    path = catalog_path(locale_dir, "pt-BR", "crm")
    path.parent.mkdir(parents=True)
    po = polib.POFile()
    po.metadata = {"Language": "pt_BR", "Content-Type": "text/plain; charset=UTF-8"}
    po.append(polib.POEntry(msgid="Active", msgstr="Ativo"))
    po.append(polib.POEntry(msgctxt="organization", msgid="Active", msgstr="Ativa"))
    po.save(str(path))
    catalogs = Catalogs()
    catalogs.add_domain("crm", locale_dir)
    t = Translator(catalogs=catalogs, language="pt-BR", domains=("crm",))
    env = Environment(loader=DictLoader({"x.html": "{{ _('Active') }} {{ pgettext('organization', 'Active') }}"}))
    install_jinja_i18n(env)

    assert (t.gettext("Active"), t.pgettext("organization", "Active")) == ("Ativo", "Ativa")
    assert t.pgettext("deal stage", "Active") == "Active"  # an unknown context falls back to the source text
    with using_translator(t):
        assert env.get_template("x.html").render() == "Ativo Ativa"


def test_pgettext_calls_are_extracted_with_their_context(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "page.html").write_text("{{ pgettext('organization', 'Active') }}")
    (source / "code.py").write_text("from kernel.i18n.catalogs import pgettext\nlabel = pgettext('user', 'Active')\n")
    keys = tools.message_keys(tools.collect("crm", [source]))
    assert {"organization\x04Active", "user\x04Active"} <= keys


def test_a_count_in_a_detail_is_filled_even_without_a_plural():
    from kernel.errors import ValidationFailed

    error = ValidationFailed("The password must have at least %(count)d characters.", count=10)
    assert str(error) == "The password must have at least 10 characters."
    assert error.params["count"] == 10
