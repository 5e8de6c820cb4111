"""``atriumn ai batch submit|status|wait|results|cancel|list``: provider batch jobs from the terminal.

A job is named by the JSON file ``submit`` saves (``requests.batch.json`` beside ``requests.jsonl``), which any
later command — in any process — reads, or by ``provider:provider-batch-id``. ``wait`` and ``cancel`` keep the
file up to date. Each input line is ``{"id": ..., "messages": ..., <chat parameters>}``: ``messages`` as
``chat`` takes them (a string, or OpenAI-style message dicts), the parameters as ``chat`` takes them
(``system``, ``max_tokens``, ``temperature``, ``response_format`` as a JSON Schema...).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atriumn.core import AtriumnError, ValidationError
from atriumn.core.cli import Output, format_money

if TYPE_CHECKING:
    from ._batch_types import BatchJob, BatchRequest

__all__ = ["register"]

_REQUEST_INDEX = re.compile(r"^requests\[(\d+)\]\.?(.*)$", re.S)


def register(cmds: Any) -> None:
    """Add ``ai batch ...`` to the ``ai`` command's subparsers."""
    batch = cmds.add_parser("batch", help="provider batch jobs: half price, answered within 24 hours")
    sub = batch.add_subparsers(dest="batch_command", required=True)
    job_help = "the job file `submit` saved, or provider:provider-batch-id"

    submit = sub.add_parser("submit", help="submit a JSONL file of requests as a batch job")
    submit.add_argument("requests", help='a JSONL file: {"id": ..., "messages": ..., <chat parameters>} per line')
    submit.add_argument("--model", "-m", help="provider:model (default: $ATRIUMN_AI_MODEL)")
    submit.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE", help="a label (repeatable)")
    submit.add_argument("--batch-id", help="your own job id (a re-run with it submits nothing twice)")
    submit.add_argument("--job-file", help="where to save the job (default: REQUESTS with .batch.json)")
    submit.add_argument("--max-requests", type=int, help="requests per provider batch (default: the provider's)")
    submit.add_argument("--wait", action="store_true", help="then wait for the job to end")
    submit.set_defaults(handler=_submit, hint=_hint)

    for name, text in (
        ("status", "the job as the provider sees it now"),
        ("cancel", "cancel the job (answered requests keep their results)"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("job", help=job_help)
        command.set_defaults(handler=_on_job, hint=_hint)

    wait = sub.add_parser("wait", help="wait for the job to end, with progress on a terminal")
    wait.add_argument("job", help=job_help)
    wait.add_argument("--timeout", type=float, help="give up after this many seconds (the job goes on)")
    wait.add_argument("--poll-interval", type=float, help="seconds before the first poll (default 2, then longer)")
    wait.set_defaults(handler=_wait, hint=_hint)

    results = sub.add_parser("results", help="the results of an ended job, as JSONL")
    results.add_argument("job", help=job_help)
    results.add_argument("--out", "-o", help="write the results here (default: standard output)")
    results.set_defaults(handler=_results, hint=_hint)

    ls = sub.add_parser("list", help="a provider's batches, newest first")
    ls.add_argument("--provider", "-p", required=True, help="openai, anthropic, gemini or groq")
    ls.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    ls.set_defaults(handler=_list, hint=_hint)


# --- jobs ----------------------------------------------------------------------------------------------------


def _load(reference: str) -> tuple[BatchJob | str, Path | None]:
    """A job file's job (and the file), or a ``provider:id`` reference as it is."""
    from ._batch_types import BatchJob

    path = Path(reference)
    if path.is_file():
        return BatchJob.from_json(path.read_text(encoding="utf-8")), path
    if ":" in reference and not reference.endswith((".json", ".jsonl")):
        return reference, None
    raise ValidationError(f"job: {reference}: no such job file (give the file `submit` saved, or provider:batch-id)")


def _save(job: BatchJob, path: Path | None) -> None:
    if path is not None:
        path.write_text(job.to_json() + "\n", encoding="utf-8")


def _job_text(job: BatchJob) -> str:
    c = job.counts
    lines = [
        f"batch {job.id}  {job.model or job.provider}",
        f"status    {job.status} ({job.raw_status or '-'})",
        f"requests  {c.total}: {c.succeeded} succeeded, {c.failed} failed, {c.cancelled} cancelled, "
        f"{c.expired} expired, {c.processing} processing",
    ]
    for part in job.parts:
        error = f"  {part.error}" if part.error else ""
        lines.append(f"  part {part.index}  {part.provider_id}  {part.status}  {part.requests} requests{error}")
    return "\n".join(lines)


def _job_data(job: BatchJob) -> Any:
    return json.loads(job.to_json())


def _client() -> Any:
    from ._chat_sync import ChatClient

    return ChatClient()


# --- commands ------------------------------------------------------------------------------------------------


def _read_requests(path: Path, lines: array[int]) -> Iterator[BatchRequest]:
    """The file's requests, read lazily (``lines`` gets each one's line number, for errors)."""
    from ._batch_types import BatchRequest

    with path.open(encoding="utf-8") as source:
        for number, raw in enumerate(source, 1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                doc = json.loads(raw)
            except ValueError as exc:
                raise ValidationError(f"{where}: not a JSON line ({exc})") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or "messages" not in doc:
                raise ValidationError(f'{where}: expected {{"id": "...", "messages": ..., <chat parameters>}}')
            request_id, messages = doc.pop("id"), doc.pop("messages")
            try:
                request = BatchRequest(request_id, messages, **doc)
            except (TypeError, ValidationError) as exc:
                raise ValidationError(f"{where}: {exc}") from None
            lines.append(number)
            yield request


def _submit(args: argparse.Namespace, out: Output) -> int | None:
    path = Path(args.requests)
    if not path.is_file():
        raise ValidationError(f"requests: {path}: no such file")
    from ._batch_types import BatchLimits
    from ._commands import pairs

    metadata = pairs(args.metadata, "--metadata", "KEY")

    limits = BatchLimits(max_requests=args.max_requests) if args.max_requests else None
    job_file = Path(args.job_file) if args.job_file else path.with_name(path.name.rsplit(".", 1)[0] + ".batch.json")
    lines: array[int] = array("I")
    with _client() as client:
        try:
            job = client.batches.create(
                args.model, _read_requests(path, lines), metadata=metadata, limits=limits, batch_id=args.batch_id
            )
        except ValidationError as exc:
            match = _REQUEST_INDEX.match(str(exc))
            if match is None or int(match.group(1)) >= len(lines):
                raise
            raise ValidationError(f"{path}:{lines[int(match.group(1))]}: {match.group(2)}") from None
        _save(job, job_file)
        out.note(
            f"submitted {job.counts.total or sum(p.requests for p in job.parts)} requests to {job.model} as batch "
            f"{job.id} ({len(job.parts)} provider batch{'es' if len(job.parts) > 1 else ''}); saved to {job_file}"
        )
        if args.wait:
            job = _wait_for(client, job, job_file, out, None, None)
    out.data({**_job_data(job), "job_file": str(job_file)}, human=_job_text(job))
    return None


def _on_job(args: argparse.Namespace, out: Output) -> int | None:
    """``status`` and ``cancel``: the job read (or cancelled) now, saved back to its file."""
    ref, path = _load(args.job)
    with _client() as client:
        job = client.batches.cancel(ref) if args.batch_command == "cancel" else client.batches.get(ref)
    _save(job, path)
    out.data(_job_data(job), human=_job_text(job))
    return None


def _wait_for(client: Any, ref: Any, path: Path | None, out: Output, timeout: Any, interval: Any) -> BatchJob:
    with out.progress("waiting for the batch", unit="requests") as update:

        def progress(job: BatchJob) -> None:
            update(job.counts.done, job.counts.total or None)

        from ._errors import BatchWaitTimeoutError

        try:
            job: BatchJob = client.batches.wait(ref, timeout=timeout, poll_interval=interval, progress=progress)
        except BatchWaitTimeoutError as exc:
            _save(exc.job, path)  # the job as last seen: the next wait starts from there
            raise
    _save(job, path)
    return job


def _wait(args: argparse.Namespace, out: Output) -> int | None:
    ref, path = _load(args.job)
    with _client() as client:
        job = _wait_for(client, ref, path, out, args.timeout, args.poll_interval)
    out.data(_job_data(job), human=_job_text(job))
    return None


def _result_doc(result: Any) -> dict[str, Any]:
    from atriumn.core._cli_output import jsonable

    doc: dict[str, Any] = {"id": result.id, "ok": result.ok}
    response, error = result.response, result.error
    if response is not None:
        doc.update(
            text=response.text,
            finish_reason=response.finish_reason,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            cost_usd=response.cost.total if response.cost is not None else None,
        )
    if error is not None:
        doc["error"] = {
            "type": type(error).__name__,
            "status": getattr(error, "status_code", None),
            "code": getattr(error, "code", None),
            "message": getattr(error, "description", None) or str(error),
        }
    return jsonable(doc)  # type: ignore[no-any-return]


def _results(args: argparse.Namespace, out: Output) -> int | None:
    ref, _ = _load(args.job)
    ok = failed = 0
    cost = 0.0
    with _client() as client, contextlib.ExitStack() as files:
        results = client.batches.results(ref)
        target = files.enter_context(Path(args.out).open("w", encoding="utf-8")) if args.out else None
        with out.progress("reading results", unit="results") as update:
            for result in results:
                line = json.dumps(_result_doc(result), ensure_ascii=False) + "\n"
                if target is not None:
                    target.write(line)
                else:
                    out.stop_progress()
                    out.stdout.write(line)
                ok, failed = ok + result.ok, failed + (not result.ok)
                cost += result.cost.total if result.cost is not None else 0.0
                update(ok + failed, None)
    summary = {"succeeded": ok, "failed": failed, "cost_usd": cost, "out": args.out}
    if args.out:
        out.data(summary, human=f"{ok} succeeded, {failed} failed, {format_money(cost)} — written to {args.out}")
    else:
        out.note(f"{ok} succeeded, {failed} failed, {format_money(cost)}")
    return None


def _list(args: argparse.Namespace, out: Output) -> int | None:
    import itertools

    with _client() as client:
        jobs = list(itertools.islice(client.batches.list(args.provider), max(0, args.limit)))

    def table(rows: list[Any]) -> str:
        if not rows:
            return "(no batches)"
        lines = [f"{'ID':48}  {'STATUS':11}  REQUESTS"]
        lines += [f"{j.id:48}  {j.status:11}  {j.counts.total}" for j in rows]
        return "\n".join(lines)

    out.data([_job_data(j) for j in jobs], human=lambda _: table(jobs))
    return None


# --- hints ---------------------------------------------------------------------------------------------------


def _hint(exc: BaseException, args: argparse.Namespace) -> str | None:
    """What to do about a failure: the provider's variables for its errors, a way on for a timed-out wait."""
    from ._commands import provider_hint
    from ._errors import BatchWaitTimeoutError

    if isinstance(exc, BatchWaitTimeoutError):
        return f"the job goes on: run `atriumn ai batch wait {getattr(args, 'job', 'JOB')}` again, or cancel it"
    provider = getattr(args, "provider", None) or ""
    if getattr(args, "model", None):
        provider = str(args.model).partition(":")[0]
    reference = getattr(args, "job", None)
    if reference:
        try:
            ref, _ = _load(reference)
        except (OSError, AtriumnError):
            ref = reference
        provider = ref.provider if not isinstance(ref, str) else ref.partition(":")[0]
    from atriumn.core import NotFoundError

    from ._engine import PROVIDERS

    if isinstance(exc, NotFoundError) and provider in PROVIDERS:
        key = " or ".join(PROVIDERS[provider][0])
        return f"check the batch id, and that {key} is the key that created it (batches are private to a key)"
    return provider_hint(exc, provider)
