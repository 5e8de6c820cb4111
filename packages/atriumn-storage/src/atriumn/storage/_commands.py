"""``atriumn storage upload|download`` (registered through the ``atriumn.cli`` entry point)."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from atriumn.core import ValidationError
from atriumn.core.cli import Output, credentials_for

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``storage`` commands to the ``atriumn`` parser."""
    storage = sub.add_parser("storage", help="upload and download through pre-signed URLs")
    cmds = storage.add_subparsers(dest="storage_command", required=True)

    up = cmds.add_parser("upload", help="upload a file (streamed, checksummed)")
    up.add_argument("path", help="the file to upload")
    up.add_argument("--filename", help="the name to store it under (default: the file's name)")
    up.add_argument("--content-type", help="its MIME type (default: guessed from the name)")
    up.add_argument("--tenant-id", help="the tenant to store it in (default: your credentials' tenant)")
    up.set_defaults(handler=_upload, hint=_hint)

    down = cmds.add_parser("download", help="download an object to a file (atomically)")
    down.add_argument("key", help="the object's key (as upload printed it)")
    down.add_argument("destination", help="where to write it")
    down.set_defaults(handler=_download, hint=_hint)


def _hint(exc: BaseException, args: argparse.Namespace) -> str | None:
    """What to do, in the terms of the storage commands."""
    from atriumn.core import NotFoundError, PermissionDeniedError

    tenant = getattr(args, "tenant_id", None)
    if isinstance(exc, PermissionDeniedError) and tenant:
        return f"your credentials may not store objects for tenant {tenant!r} (--tenant-id): use your own tenant"
    if isinstance(exc, NotFoundError) and getattr(args, "key", None):
        return f"no object {args.key!r} in your tenant: check the key upload printed"
    return None


@contextlib.contextmanager
def _bar(out: Output, description: str) -> Iterator[Any]:
    """Transfer progress on a terminal, in bytes (``rich`` when installed, else one plain line)."""
    with out.progress(description, unit="bytes") as update:
        yield update


def _upload(args: argparse.Namespace, out: Output) -> int | None:
    import mimetypes

    from atriumn.storage import StorageClient

    if not os.path.isfile(args.path):
        raise ValidationError(f"path: no such file: {args.path}")
    filename = args.filename or os.path.basename(args.path)
    content_type = args.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    with StorageClient(credentials=credentials_for(args)) as storage, _bar(out, f"uploading {filename}") as bar:
        result = storage.upload(
            args.path, filename=filename, content_type=content_type, tenant_id=args.tenant_id, progress=bar
        )
    out.data(result, human=f"uploaded {result.size} bytes as {result.key} (sha256 {result.sha256})")
    return None


def _download(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.storage import StorageClient

    with StorageClient(credentials=credentials_for(args)) as storage, _bar(out, f"downloading {args.key}") as bar:
        result = storage.download(args.key, args.destination, progress=bar)
    out.data(result, human=f"downloaded {result.size} bytes to {result.path}")
    return None
