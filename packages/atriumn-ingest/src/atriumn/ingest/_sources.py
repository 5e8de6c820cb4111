"""What the ingest clients accept as a file to send (a path or a file object), opened and named once for both."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import IO, Any

from atriumn.core import ValidationError

from ._validation import check_path

__all__ = ["FileInput", "file_opener", "filename_of", "upload_name", "upload_source"]

#: A file to send: a path, or a binary file object.
FileInput = str | os.PathLike[str] | IO[bytes]


@contextlib.contextmanager
def file_opener(source: FileInput) -> Iterator[tuple[Callable[[], IO[bytes]] | IO[bytes], str | None]]:
    """A per-attempt opener (rewinds the file), and the file's name when it has one.

    A path is opened here and closed on exit; a file object is rewound to where it started on every
    attempt when it can seek, otherwise it is sent once as it is.
    """
    if isinstance(source, (str, os.PathLike)):
        path = check_path(source, field="source")
        with open(path, "rb") as fh:

            def reopen() -> IO[bytes]:
                fh.seek(0)
                return fh

            yield reopen, os.path.basename(path)
        return
    name = getattr(source, "name", None)
    name = os.path.basename(name) if isinstance(name, str) else None
    try:
        start = source.tell() if source.seekable() else None
    except (OSError, ValueError):
        start = None
    if start is None:
        yield source, name
        return

    def rewind() -> IO[bytes]:
        source.seek(start)
        return source

    yield rewind, name


def upload_name(source: FileInput | bytes, filename: str | None) -> str:
    """The name an upload goes under: ``filename``, else the path's or the file object's name."""
    if filename:
        return filename
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(check_path(source, field="source"))
    name = getattr(source, "name", None)
    if isinstance(name, str) and name:
        return os.path.basename(name)
    raise ValidationError("filename: required when the source is bytes or a file object without a name")


def upload_source(source: FileInput | bytes) -> Any:
    """What an upload sends: a checked path, or the bytes or file object as given."""
    return check_path(source, field="source") if isinstance(source, (str, os.PathLike)) else source


def filename_of(filename: str | None, detected: str | None) -> str:
    """``filename``, else the name found on the source; one of them is required."""
    name = filename or detected
    if not name:
        raise ValidationError("filename: required when the source has no name (a file object without .name)")
    return name
