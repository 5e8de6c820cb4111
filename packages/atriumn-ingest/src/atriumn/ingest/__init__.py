"""Content ingestion for the Atriumn platform: text, URLs and files, one at a time or in bulk.

```python
from atriumn.ingest import IngestClient, TextSource, URLSource

with IngestClient(credentials=...) as ingest:
    item = ingest.ingest_text("Hello", metadata={"lang": "en"})
    ingest.wait_until_processed(item.id)
    results = ingest.ingest_batch([TextSource(content="a"), URLSource(url="https://example.com")])
```
"""

from atriumn.core import register_component

from ._client import IngestClient
from ._client_async import AsyncIngestClient
from ._errors import ProcessingFailedError, ProcessingTimeoutError
from ._models import (
    BatchProgress,
    BatchResult,
    BatchSource,
    ContentItem,
    FileSource,
    TextSource,
    UploadTicket,
    URLSource,
)
from ._progress import rich_batch_progress
from ._version import __version__

register_component("ingest", __version__)

__all__ = [
    "AsyncIngestClient",
    "BatchProgress",
    "BatchResult",
    "BatchSource",
    "ContentItem",
    "FileSource",
    "IngestClient",
    "ProcessingFailedError",
    "ProcessingTimeoutError",
    "TextSource",
    "URLSource",
    "UploadTicket",
    "__version__",
    "rich_batch_progress",
]
