"""``atriumn ingest text|url|file|list|get|wait|batch`` (registered through the ``atriumn.cli`` entry point)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from atriumn.core import ValidationError
from atriumn.core.cli import Output, credentials_for

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``ingest`` commands to the ``atriumn`` parser."""
    ingest = sub.add_parser("ingest", help="ingest content and manage content items")
    cmds = ingest.add_subparsers(dest="ingest_command", required=True)

    def meta(p: argparse.ArgumentParser) -> None:
        p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata (repeatable)")
        p.add_argument("--wait", action="store_true", help="wait until processed")

    text = cmds.add_parser("text", help="ingest text (use - to read stdin)")
    text.add_argument("text", help="the text to ingest, or - to read it from stdin")
    meta(text)
    text.set_defaults(handler=_text)

    url = cmds.add_parser("url", help="ingest a URL (fetched by the service)")
    url.add_argument("url", help="an http(s) URL")
    meta(url)
    url.set_defaults(handler=_url)

    file = cmds.add_parser("file", help="ingest a file (multipart, streamed)")
    file.add_argument("path", help="the file to ingest")
    file.add_argument("--content-type", help="its MIME type (default: guessed from the name)")
    meta(file)
    file.set_defaults(handler=_file)

    ls = cmds.add_parser("list", help="list content items")
    ls.add_argument("--status", help="only items in this status (pending, processing, completed, failed)")
    ls.add_argument("--source-type", help="only items from this kind of source (text, url, file)")
    ls.add_argument("--limit", type=int, default=50, help="stop after this many items (default 50)")
    ls.set_defaults(handler=_list)

    get = cmds.add_parser("get", help="show one content item")
    get.add_argument("id", help="the content item's id")
    get.set_defaults(handler=_get)

    wait = cmds.add_parser("wait", help="wait until an item is processed")
    wait.add_argument("id", help="the content item's id")
    wait.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds (default 60)")
    wait.set_defaults(handler=_wait)

    batch = cmds.add_parser("batch", help="ingest many URLs and files (and lines of text with --lines)")
    batch.add_argument("sources", nargs="*", help="URLs (http/https) and file paths")
    batch.add_argument("--lines", help="a file whose every non-empty line is ingested as text")
    batch.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    batch.set_defaults(handler=_batch)


def _metadata(pairs: list[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"--meta: expected KEY=VALUE, got {pair!r}")
        out[key] = value
    return out or None


def _client(args: argparse.Namespace) -> Any:
    from atriumn.ingest import IngestClient

    return IngestClient(credentials=credentials_for(args))


def _finish(client: Any, item: Any, args: argparse.Namespace, out: Output) -> None:
    if getattr(args, "wait", False):
        with out.busy(f"processing {item.id[:8]}…"):
            item = client.wait_until_processed(item.id)
    out.data(item, human=f"{item.id}  {item.status}  {item.source_type or ''}")


def _text(args: argparse.Namespace, out: Output) -> int | None:
    content = sys.stdin.read() if args.text == "-" else args.text
    with _client(args) as client:
        _finish(client, client.ingest_text(content, metadata=_metadata(args.meta)), args, out)
    return None


def _url(args: argparse.Namespace, out: Output) -> int | None:
    with _client(args) as client:
        _finish(client, client.ingest_url(args.url, metadata=_metadata(args.meta)), args, out)
    return None


def _file(args: argparse.Namespace, out: Output) -> int | None:
    with _client(args) as client:
        item = client.ingest_file(args.path, content_type=args.content_type, metadata=_metadata(args.meta))
        _finish(client, item, args, out)
    return None


def _list(args: argparse.Namespace, out: Output) -> int | None:
    if args.limit < 1:
        raise ValidationError("--limit: must be >= 1")
    items = []
    with _client(args) as client:
        for item in client.list_content(status=args.status, source_type=args.source_type, page_size=50):
            items.append(item)
            if len(items) >= args.limit:
                break

    def table(rows: list[Any]) -> str:
        if not rows:
            return "(no content items)"
        lines = [f"{'ID':36}  {'STATUS':10}  {'TYPE':5}  {'SIZE':>9}  CREATED"]
        for i in rows:
            created = i.created_at.isoformat(timespec="seconds") if i.created_at else ""
            lines.append(f"{i.id:36}  {i.status:10}  {i.source_type or '':5}  {i.size or 0:>9}  {created}")
        return "\n".join(lines)

    out.data(items, human=table)
    return None


def _get(args: argparse.Namespace, out: Output) -> int | None:
    with _client(args) as client:
        out.data(client.get_content(args.id))
    return None


def _wait(args: argparse.Namespace, out: Output) -> int | None:
    with _client(args) as client, out.busy(f"processing {args.id[:8]}…"):
        item = client.wait_until_processed(args.id, timeout=args.timeout)
    out.data(item, human=f"{item.id}  {item.status}")
    return None


@contextlib.contextmanager
def _bar(out: Output, total: int) -> Iterator[Any]:
    """Batch progress on a terminal: done / total items (``rich`` when installed, else one plain line)."""
    with out.progress("ingesting", unit="items") as update:

        def progress(p: Any) -> None:
            update(p.done, total)

        yield progress


def _batch(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.ingest import FileSource, TextSource, URLSource

    items: list[Any] = []
    for source in args.sources:
        if source.startswith(("http://", "https://")):
            items.append(URLSource(url=source))
        else:
            items.append(FileSource(path=source))
    if args.lines:
        if not os.path.isfile(args.lines):
            raise ValidationError(f"--lines: no such file: {args.lines}")
        with open(args.lines, encoding="utf-8") as fh:
            items.extend(TextSource(content=line.rstrip("\n")) for line in fh if line.strip())
    if not items:
        raise ValidationError("batch: give URLs, file paths, or --lines FILE")
    with _client(args) as client, _bar(out, len(items)) as bar:
        results = client.ingest_batch(items, max_concurrency=args.concurrency, progress=bar)
    rows = [
        {
            "index": r.index,
            "ok": r.ok,
            "id": r.item.id if r.item else None,
            "status": r.item.status if r.item else "error",
            "error": str(r.error) if r.error else None,
        }
        for r in results
    ]
    failed = sum(1 for r in results if not r.ok)

    def table(rows: list[dict[str, Any]]) -> str:
        lines = [f"{'#':>4}  {'ID':36}  {'STATUS':10}  ERROR"]
        lines += [f"{r['index']:>4}  {r['id'] or '-':36}  {r['status']:10}  {r['error'] or ''}" for r in rows]
        lines.append(f"ingested {len(rows) - failed} of {len(rows)}; {failed} failed")
        return "\n".join(lines)

    out.data(rows, human=table)
    return 1 if failed else None
