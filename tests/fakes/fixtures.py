"""Pytest fixtures for the fake model servers: import them into a test module to use them there.

from tests.fakes.fixtures import fresh_fakes, gemini_fake, openai_fake  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.gemini_server import FakeGemini
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def gemini_fake() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def fresh_fakes(openai_fake: FakeOpenAI, gemini_fake: FakeGemini) -> None:
    """Every test starts with fakes that have seen nothing and answer normally."""
    openai_fake.reset()
    gemini_fake.reset()
