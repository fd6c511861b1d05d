"""Tables on pages: search, filters, sorting and pagination read from the query string, safely.

A page handler builds a :class:`Listing` from the request with the sort keys and filters it accepts
(anything else in the query is ignored, so a typed URL can never sort by an arbitrary column), applies
it to its query, and hands it to the ``table`` macros (``webui/templates/components/table.html``),
which draw sortable headers and page links that keep every other parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from litestar import Request
from sqlalchemy import Select, func, select

__all__ = ["PER_PAGE_CHOICES", "Listing"]

PER_PAGE_CHOICES = (10, 25, 50, 100)
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class Listing:
    path: str
    sort: str
    direction: str
    page: int = 1
    per_page: int = 25
    q: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    total: int = 0

    @classmethod
    def from_request(
        cls,
        request: Request[Any, Any, Any],
        *,
        sorts: Sequence[str],
        default_sort: str,
        default_direction: str = "asc",
        filters: Sequence[str] = (),
        per_page: int = 25,
    ) -> Listing:
        query = request.query_params
        sort = query.get("sort") if query.get("sort") in sorts else default_sort
        direction = query.get("dir") if query.get("dir") in ("asc", "desc") else default_direction
        try:
            page = max(1, int(query.get("page") or 1))
        except ValueError:
            page = 1
        try:
            size = int(query.get("per_page") or per_page)
        except ValueError:
            size = per_page
        if size not in PER_PAGE_CHOICES:
            size = per_page
        chosen = {name: str(query.get(name)).strip()[:MAX_QUERY_LENGTH] for name in filters if query.get(name)}
        return cls(
            path=request.url.path,
            sort=sort,
            direction=direction,
            page=page,
            per_page=size,
            q=(query.get("q") or "").strip()[:MAX_QUERY_LENGTH],
            filters=chosen,
        )

    # -- applying it ------------------------------------------------------------------------------

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def order(self, columns: Mapping[str, Any]) -> list[Any]:
        """ORDER BY for the chosen sort key (``columns`` maps each sort key to a column or a tuple)."""
        chosen = columns[self.sort]
        chosen = chosen if isinstance(chosen, tuple) else (chosen,)
        return [column.desc() if self.direction == "desc" else column.asc() for column in chosen]

    async def fetch(
        self, session: Any, statement: Select[Any], columns: Mapping[str, Any]
    ) -> tuple[list[Any], Listing]:
        """Run ``statement`` for the current page; returns the rows and this listing with its total."""
        total = (
            await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))
        ).scalar_one()
        listing = replace(self, total=total, page=min(self.page, max(1, math.ceil(total / self.per_page))))
        rows = (
            await session.execute(
                statement.order_by(*listing.order(columns)).offset(listing.offset).limit(listing.per_page)
            )
        ).all()
        return list(rows), listing

    # -- drawing it -------------------------------------------------------------------------------

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_item(self) -> int:
        return 0 if self.total == 0 else self.offset + 1

    @property
    def last_item(self) -> int:
        return min(self.total, self.offset + self.per_page)

    def params(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {"q": self.q, **self.filters, "sort": self.sort, "dir": self.direction}
        values["page"] = self.page
        values["per_page"] = self.per_page
        values.update(changes)
        return {key: str(value) for key, value in values.items() if value not in (None, "")}

    def url(self, **changes: Any) -> str:
        return f"{self.path}?{urlencode(self.params(**changes))}"

    def sort_url(self, key: str) -> str:
        """The header link: sort by ``key``, or flip the direction when it is the current key."""
        direction = "desc" if key == self.sort and self.direction == "asc" else "asc"
        return self.url(sort=key, dir=direction, page=1)

    def sort_state(self, key: str) -> str:
        """``aria-sort`` value of a header."""
        if key != self.sort:
            return "none"
        return "ascending" if self.direction == "asc" else "descending"

    def page_numbers(self, around: int = 2) -> list[int | None]:
        """Page links to show, with ``None`` for a gap: ``[1, None, 4, 5, 6, None, 12]``."""
        wanted = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        shown = sorted(n for n in wanted if 1 <= n <= self.pages)
        result: list[int | None] = []
        for number in shown:
            if result and number - (result[-1] or 0) > 1:
                result.append(None)
            result.append(number)
        return result

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.filters)
