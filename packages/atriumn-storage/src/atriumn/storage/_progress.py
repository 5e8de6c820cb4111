"""A ready-made ``rich`` progress bar for transfers (``rich`` is optional and imported on use)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ._transfer import ProgressCallback

__all__ = ["rich_progress"]


@contextlib.contextmanager
def rich_progress(
    description: str = "transferring", *, console: Any = None, transient: bool = False
) -> Iterator[ProgressCallback]:
    """A ``progress(done, total)`` callback drawing a ``rich`` bar with bytes, speed and time left.

    ```python
    with rich_progress("uploading report.pdf") as progress:
        client.upload("report.pdf", filename="report.pdf", progress=progress)
    ```

    Raises ImportError with the install hint when ``rich`` is missing (``pip install "atriumn-storage[progress]"``).
    """
    try:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('rich_progress needs rich: pip install "atriumn-storage[progress]"') from exc
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=transient) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update
