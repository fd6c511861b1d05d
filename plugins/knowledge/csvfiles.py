"""Reading CSV files people export from spreadsheets: UTF-8 (with or without BOM) or Windows-1252,
comma, semicolon or tab."""

from __future__ import annotations

import csv
import io

from plugins.knowledge.extraction import decode_text

__all__ = ["csv_dialect", "read_dicts", "read_rows"]


def csv_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def read_rows(data: bytes) -> list[list[str]]:
    text = decode_text(data)
    return list(csv.reader(io.StringIO(text), csv_dialect(text)))


def read_dicts(data: bytes) -> csv.DictReader[str]:
    text = decode_text(data)
    return csv.DictReader(io.StringIO(text), dialect=csv_dialect(text))
