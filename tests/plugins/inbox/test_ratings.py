"""Which customer replies count as the answer to the rating request."""

from __future__ import annotations

from plugins.inbox.services import _rating


def test_ratings_are_read_from_short_answers_only():
    assert [_rating(t) for t in ("5", " 4 estrelas", "3/5", "⭐⭐⭐⭐", "2.", "1 de 5")] == [5, 4, 3, 4, 2, 1]
    assert [_rating(t) for t in ("6", "5 pares de meia", "nota 10", "", "0")] == [None] * 5
