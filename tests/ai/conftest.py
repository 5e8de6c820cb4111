from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from atriumn.ai import AsyncChatClient, ChatClient

from ._fake import FakeServer, serve

PROVIDERS = ["openai", "anthropic", "gemini", "groq"]


@pytest.fixture(scope="session")
def fake_session() -> Iterator[FakeServer]:
    with serve() as fake:
        yield fake


@pytest.fixture
def fake(fake_session: FakeServer) -> FakeServer:
    fake_session.state.requests.clear()
    fake_session.state.counts.clear()
    return fake_session


@pytest.fixture
def env(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = fake.env()
    for key in ("ATRIUMN_AI_MODEL", "LLM_PROVIDER", "GOOGLE_API_KEY", "ATRIUMN_AI_PRICES"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[ChatClient]:
    with ChatClient(max_retries=2) as c:
        yield c


@pytest.fixture
async def aclient(env: dict[str, str]) -> AsyncIterator[AsyncChatClient]:
    async with AsyncChatClient(max_retries=2) as c:
        yield c
