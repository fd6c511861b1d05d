"""Dates, numbers and money in the reader's language (Babel), plus the Jinja side of translations.

Every function takes the current translator's language and time zone unless told otherwise.
Datetimes are stored in UTC and shown in the tenant's time zone; a naive datetime counts as UTC.
Money is an integer amount of the currency's minor unit (cents) plus an ISO 4217 code.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.numbers import NumberPattern
from jinja2 import Environment

from kernel.i18n.catalogs import current_translator

__all__ = [
    "babel_locale",
    "format_date",
    "format_datetime",
    "format_decimal",
    "format_money",
    "format_number",
    "format_percent",
    "install_jinja_i18n",
]

Number = int | float | Decimal


@lru_cache(maxsize=32)
def babel_locale(language: str) -> Locale:
    """Babel's locale for one of our language tags (``pt-BR`` -> ``pt_BR``)."""
    return Locale.parse(language.replace("-", "_"))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _locale(language: str | None) -> Locale:
    return babel_locale(language or current_translator().language)


def _local(value: datetime, timezone: str | None) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(_zone(timezone or current_translator().timezone))


def format_date(
    value: date | datetime, style: str = "medium", *, language: str | None = None, timezone: str | None = None
) -> str:
    """A date (``short``, ``medium``, ``long``, ``full`` or a pattern); a datetime is moved to the time zone first."""
    if isinstance(value, datetime):
        value = _local(value, timezone).date()
    return dates.format_date(value, style, locale=_locale(language))


def format_datetime(
    value: datetime, style: str = "medium", *, language: str | None = None, timezone: str | None = None
) -> str:
    """A UTC datetime shown in the tenant's (or ``timezone``'s) local time."""
    local = _local(value, timezone)
    return dates.format_datetime(local, style, tzinfo=local.tzinfo, locale=_locale(language))


def format_number(value: Number, *, language: str | None = None) -> str:
    """A number with the locale's grouping and decimal sign (up to three decimals)."""
    return numbers.format_decimal(value, locale=_locale(language))


def format_decimal(value: Number, digits: int = 2, *, language: str | None = None) -> str:
    """A number with exactly ``digits`` decimals."""
    locale = _locale(language)
    pattern = _fixed_fraction(locale.decimal_formats[None], digits)
    return numbers.format_decimal(value, format=pattern, locale=locale)


def format_money(cents: int, currency: str, *, language: str | None = None) -> str:
    """``cents`` of ``currency`` (minor units, e.g. 123456 BRL -> ``R$ 1.234,56`` in pt-BR)."""
    amount = Decimal(cents).scaleb(-numbers.get_currency_precision(currency))
    return numbers.format_currency(amount, currency, locale=_locale(language))


def format_percent(value: Number, digits: int = 0, *, language: str | None = None) -> str:
    """A ratio as a percentage (0.125 -> ``12,5%`` with ``digits=1`` in pt-BR)."""
    locale = _locale(language)
    pattern = _fixed_fraction(locale.percent_formats[None], digits)
    return numbers.format_percent(value, format=pattern, locale=locale)


def _fixed_fraction(pattern: NumberPattern, digits: int) -> NumberPattern:
    # The locale's own pattern keeps its grouping and spacing ("12,5 %" in es); only the decimals change.
    fixed = copy.copy(pattern)
    fixed.frac_prec = (digits, digits)
    return fixed


# -- Jinja ------------------------------------------------------------------------------------


def install_jinja_i18n(env: Environment) -> None:
    """``_``, ``gettext``, ``ngettext`` and ``{% trans %}`` bound to the current translator, and the formatting filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_template_gettext, ngettext=_template_ngettext, pgettext=_template_pgettext, newstyle=True
    )
    env.filters.update(
        format_date=format_date,
        format_datetime=format_datetime,
        format_number=format_number,
        format_decimal=format_decimal,
        format_money=format_money,
        format_percent=format_percent,
    )


# Jinja's newstyle gettext fills the placeholders itself (escaping the values), so these return raw text.
def _template_gettext(message: str) -> str:
    current = current_translator()
    return current.catalogs.gettext(current.domains, current.language, message)


def _template_pgettext(context: str, message: str) -> str:
    current = current_translator()
    return current.catalogs.pgettext(current.domains, current.language, context, message)


def _template_ngettext(singular: str, plural: str, n: int) -> str:
    current = current_translator()
    return current.catalogs.ngettext(current.domains, current.language, singular, plural, n)
