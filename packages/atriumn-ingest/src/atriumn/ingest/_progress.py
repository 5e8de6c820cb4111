"""A ready-made ``rich`` progress bar for ``ingest_batch`` (``rich`` is optional and imported on use)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from ._models import BatchProgress

__all__ = ["rich_batch_progress"]


@contextlib.contextmanager
def rich_batch_progress(total: int, *, description: str = "ingesting") -> Iterator[Callable[[BatchProgress], None]]:
    """A progress callback drawing a ``rich`` bar with done / failed / total.

    ```python
    with rich_batch_progress(len(items)) as progress:
        client.ingest_batch(items, progress=progress)
    ```

    Raises ImportError with the install hint when ``rich`` is missing (``pip install "atriumn-ingest[progress]"``).
    """
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('rich_batch_progress needs rich: pip install "atriumn-ingest[progress]"') from exc
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed: {task.fields[failed]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=total, failed=0)

        def update(p: BatchProgress) -> None:
            bar.update(task, completed=p.done, failed=p.failed)

        yield update
