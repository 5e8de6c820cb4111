"""The Atriumn SDK in one script: account, storage, ingest, prompts, chat with four providers, and traces.

    python docs/examples/quickstart.py

With no ``ATRIUMN_API_BASE_URL`` set it starts the embedded sandbox (a local, offline Atriumn server with
LLM provider emulation); with it set, the same script runs against that server. Provider calls go to the
sandbox's emulation unless ``QUICKSTART_REAL_PROVIDERS=1`` (then the usual ``OPENAI_API_KEY``... apply).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

WIDTH = 14


def section(title: str) -> None:
    print(f"\n{title}")


def row(label: str, value: object) -> None:
    print(f"  {label:<{WIDTH}}{value}")


@contextlib.contextmanager
def server() -> Iterator[tuple[str, Any]]:
    """The API base URL, and the embedded sandbox when we started one."""
    url = os.environ.get("ATRIUMN_API_BASE_URL")
    if url:
        yield url.rstrip("/"), None
        return
    from atriumn.sandbox import Sandbox

    with Sandbox(processing_delay=0.05) as sandbox:
        yield sandbox.url, sandbox


def tracing() -> Any:
    """An in-memory span exporter when the OpenTelemetry SDK is installed (the SDK itself needs only the API)."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ImportError:
        return None
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


def confirmation_code(base_url: str, sandbox: Any, email: str) -> str:
    """The sandbox keeps the confirmation e-mail in its outbox; a real server sends it to you."""
    if sandbox is not None:
        return str(sandbox.last_code(email))
    import httpx2

    response = httpx2.get(f"{base_url}/_sandbox/outbox", params={"to": email})
    if response.status_code == 200 and response.json():
        messages = response.json()
        messages = messages.get("messages", messages) if isinstance(messages, dict) else messages
        return str(messages[-1]["code"])
    return input(f"confirmation code sent to {email}: ").strip()


def main() -> None:
    exporter = tracing()
    started = time.perf_counter()
    with server() as (base_url, sandbox):
        os.environ["ATRIUMN_API_BASE_URL"] = base_url
        print("Atriumn SDK quickstart")
        row("server", base_url + ("  (embedded sandbox)" if sandbox is not None else ""))

        # --- 1. account -------------------------------------------------------------------------------
        from atriumn.auth import AuthClient, UserSession, session_store

        section("1. Account")
        email = f"demo-{uuid.uuid4().hex[:8]}@example.com"
        password = f"Demo-{uuid.uuid4().hex}"
        with AuthClient() as auth:
            auth.signup(email=email, password=password)
            row("signed up", email)
            auth.confirm_signup(username=email, confirmation_code=confirmation_code(base_url, sandbox, email))
            row("confirmed", "with the code from the outbox" if sandbox is not None else "with your code")
        store = session_store()  # the OS keyring, or a file only you can read where no keyring works
        session = UserSession.login(username=email, password=password, profile="quickstart", store=store)
        row("signed in", f"session kept in {store.location}")
        with AuthClient(credentials=session) as auth:
            row("whoami", auth.me().username)

        # --- 2. storage -------------------------------------------------------------------------------
        from atriumn.storage import StorageClient

        section("2. Storage")
        workdir = Path(tempfile.mkdtemp(prefix="atriumn-quickstart-"))
        report = workdir / "report.txt"
        report.write_text("Quarterly report\n" + "Revenue grew in every region.\n" * 200)
        with StorageClient(credentials=session) as storage:
            uploaded = storage.upload(report, filename="report.txt", content_type="text/plain")
            row("uploaded", f"{report.name} → {uploaded.key} ({uploaded.size:,} bytes)")
            row("checksum", f"sha256 {uploaded.sha256[:16]}… verified by the server")
            copy = storage.download(uploaded.key, workdir / "copy.txt")
            row("downloaded", f"{copy.size:,} bytes, identical: {copy.path.read_bytes() == report.read_bytes()}")

        # --- 3. ingest --------------------------------------------------------------------------------
        from atriumn.ingest import IngestClient

        section("3. Ingest")
        with IngestClient(credentials=session) as ingest:
            text = ingest.ingest_text("Atriumn turns documents into answers.", metadata={"source": "quickstart"})
            url = ingest.ingest_url(f"{base_url}/health", metadata={"source": "quickstart"})
            file = ingest.ingest_file(report, metadata={"source": "quickstart"})
            for label, item in (("text", text), ("url", url), ("file", file)):
                done = ingest.wait_until_processed(item.id, timeout=30)
                row(label, f"{done.id[:8]}…  {done.status}  {done.size or 0:,} bytes")
            mine = [i for i in ingest.list_content(page_size=50) if i.metadata.get("source") == "quickstart"]
            row("listed", f"{len(mine)} items from this run")

        # --- 4. prompts -------------------------------------------------------------------------------
        from atriumn.ai import AIClient

        section("4. Prompts")
        with AIClient(credentials=session) as ai:
            prompt = ai.create_prompt(
                name="summary",
                template="Summarise {{document}} in {{words}} words.",
                variables=[
                    {"name": "document", "required": True},
                    {"name": "words", "defaultValue": "twenty"},
                ],
                tags=["quickstart"],
            )
            row("created", f"{prompt.name} (version {prompt.version})")
            rendered = prompt.render(document="the quarterly report")
            row("rendered", rendered)

        # --- 5. chat ----------------------------------------------------------------------------------
        section("5. Chat (sandbox emulation)" if sandbox is not None else "5. Chat")
        chat_with_providers(base_url, rendered)

        # --- 6. traces --------------------------------------------------------------------------------
        section("6. Trace summary")
        if exporter is None:
            row("spans", "install opentelemetry-sdk to see them")
        else:
            spans = exporter.get_finished_spans()
            names = Counter(s.name for s in spans)
            top = ", ".join(f"{n} ×{c}" for n, c in names.most_common(6))
            row("spans", f"{len(spans)} in {len(names)} kinds")
            row("most common", top)
            chats = [s for s in spans if s.name.startswith("chat ")]
            if chats:
                tokens = sum(int(s.attributes.get("gen_ai.usage.output_tokens", 0) or 0) for s in chats)
                row("gen_ai", f"{len(chats)} chat spans, {tokens} output tokens recorded")
        with contextlib.suppress(Exception):
            session.logout()
        row("signed out", f"done in {time.perf_counter() - started:.1f}s")


def chat_with_providers(base_url: str, prompt_text: str) -> None:
    from atriumn.ai import ChatClient, FinishEvent, TextDelta

    emulated = os.environ.get("QUICKSTART_REAL_PROVIDERS") != "1"
    options: dict[str, Any] = {}
    if emulated:
        options["base_urls"] = {
            "openai": f"{base_url}/v1",
            "anthropic": base_url,
            "gemini": base_url,
            "groq": base_url,
        }
        options["api_keys"] = {p: f"quickstart-{p}-key" for p in ("openai", "anthropic", "gemini", "groq")}
    models = [
        "openai:gpt-4o-mini",
        "anthropic:claude-sonnet-4-5",
        "gemini:gemini-2.5-flash",
        "groq:llama-3.3-70b-versatile",
    ]
    from atriumn.core.cli import format_money

    total = 0.0
    with ChatClient(**options) as client:
        for model in models:
            try:
                response = client.chat(model, prompt_text, max_tokens=64)
            except Exception as exc:  # a missing key for a real provider: say so and go on
                row(model.split(":")[0], f"skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                continue
            usage = response.usage
            cost = response.cost.total if response.cost else 0.0
            total += cost
            text = response.text if len(response.text) <= 48 else response.text[:47] + "…"
            row(
                model.split(":")[0],
                f"{text!r}  {usage.input_tokens} in / {usage.output_tokens} out  "
                f"{format_money(cost)}  {response.latency * 1000:.0f}ms",
            )
        try:
            streamed = []
            final = None
            with client.stream(models[1], "Stream this sentence back to me word by word.", max_tokens=64) as stream:
                for event in stream:
                    if isinstance(event, TextDelta):
                        streamed.append(event.text)
                    elif isinstance(event, FinishEvent):
                        final = event.response
            row("streamed", f"{len(streamed)} text deltas → {''.join(streamed)!r}")
            if final is not None:
                row("", f"finish {final.finish_reason!r}, same text as the whole: {final.text == ''.join(streamed)}")
        except Exception as exc:
            row("streamed", f"skipped: {type(exc).__name__}")
    row("total cost", f"{format_money(total)} (prices as of the bundled table)")


def fail(exc: BaseException) -> int:
    """One line naming what failed and what to do (a traceback only for a bug)."""
    from atriumn.core import AtriumnError, ConnectError, RequestTimeoutError

    if not isinstance(exc, AtriumnError):
        raise exc
    message = str(exc).splitlines()[0]
    if isinstance(exc, ConnectError | RequestTimeoutError):
        message += " — check ATRIUMN_API_BASE_URL (unset it to run on the embedded sandbox)"
    print(f"quickstart: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        sys.exit(fail(exc))
