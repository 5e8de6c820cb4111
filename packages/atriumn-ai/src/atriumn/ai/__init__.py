"""The Atriumn AI API and one chat interface over OpenAI, Anthropic, Gemini and Groq.

``AIClient`` / ``AsyncAIClient`` speak the Atriumn AI API (prompts, task runs). ``ChatClient`` /
``AsyncChatClient`` speak to LLM providers with raw HTTP through :mod:`atriumn.core` transports. The chat
machinery (and each provider's adapter) is imported on first use, so ``import atriumn.ai`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atriumn.core import register_component

from ._version import __version__

register_component("ai", __version__)

if TYPE_CHECKING:
    from ._batch import BatchResult, ScoredItem, TextItem, amap_batch, map_batch
    from ._batch_types import (
        BatchCounts,
        BatchJob,
        BatchLimits,
        BatchPart,
        BatchRequest,
        BatchRequestResult,
        BatchStatus,
    )
    from ._batches_async import AsyncBatches
    from ._batches_sync import Batches
    from ._cache import CacheStats, MemoryCache, ResponseCache, SQLiteCache
    from ._cache_redis import RedisCache
    from ._caches import AsyncCaches, CachedContent, Caches
    from ._capabilities import register_capabilities
    from ._chat_async import AsyncChatClient
    from ._chat_base import HealthStatus
    from ._chat_sync import ChatClient
    from ._client import AIClient, AsyncAIClient
    from ._engine import Budget, ProviderSpec, openai_compatible
    from ._errors import (
        BatchRequestCancelledError,
        BatchRequestExpiredError,
        BatchRequestNotRunError,
        BatchWaitTimeoutError,
        BudgetExceededError,
        StreamDecodeError,
        StreamInterruptedError,
        StructuredOutputError,
        UnsupportedParameterError,
    )
    from ._models import Prompt, PromptVariable
    from ._params import ChatParams
    from ._parts import AudioPart, CachePoint, DocumentPart, ImagePart, Reasoning, ReasoningPart
    from ._pricing import PriceTable, set_prices
    from ._sse import ServerSentEvent, SSEDecoder
    from ._streams import AsyncChatStream, ChatStream
    from ._types import (
        Attempt,
        ChatResponse,
        Cost,
        Embeddings,
        ErrorEvent,
        FinishEvent,
        Message,
        RateLimitInfo,
        ReasoningDelta,
        Step,
        StreamEvent,
        TextDelta,
        TextPart,
        Tool,
        ToolCall,
        ToolCallDelta,
        ToolCallEvent,
        ToolResult,
        ToolResultEvent,
        Usage,
        UsageEvent,
    )

_LAZY = {
    "AIClient": "._client",
    "AsyncAIClient": "._client",
    "Prompt": "._models",
    "PromptVariable": "._models",
    "ChatClient": "._chat_sync",
    "AsyncChatClient": "._chat_async",
    "ChatStream": "._streams",
    "AsyncChatStream": "._streams",
    "HealthStatus": "._chat_base",
    "ChatParams": "._params",
    "AsyncCaches": "._caches",
    "CachedContent": "._caches",
    "Caches": "._caches",
    **dict.fromkeys(["AudioPart", "CachePoint", "DocumentPart", "ImagePart", "Reasoning", "ReasoningPart"], "._parts"),
    "Budget": "._engine",
    "ProviderSpec": "._engine",
    "openai_compatible": "._engine",
    "BudgetExceededError": "._errors",
    "BatchRequestCancelledError": "._errors",
    "BatchRequestExpiredError": "._errors",
    "BatchRequestNotRunError": "._errors",
    "BatchWaitTimeoutError": "._errors",
    **dict.fromkeys(
        ["BatchCounts", "BatchJob", "BatchLimits", "BatchPart", "BatchRequest", "BatchRequestResult", "BatchStatus"],
        "._batch_types",
    ),
    "Batches": "._batches_sync",
    "AsyncBatches": "._batches_async",
    "StreamDecodeError": "._errors",
    "StreamInterruptedError": "._errors",
    "StructuredOutputError": "._errors",
    "UnsupportedParameterError": "._errors",
    "PriceTable": "._pricing",
    "set_prices": "._pricing",
    "register_capabilities": "._capabilities",
    "CacheStats": "._cache",
    "MemoryCache": "._cache",
    "ResponseCache": "._cache",
    "SQLiteCache": "._cache",
    "RedisCache": "._cache_redis",
    "SSEDecoder": "._sse",
    "BatchResult": "._batch",
    "ScoredItem": "._batch",
    "TextItem": "._batch",
    "map_batch": "._batch",
    "amap_batch": "._batch",
    "ServerSentEvent": "._sse",
    **dict.fromkeys(
        [
            "Attempt",
            "ChatResponse",
            "Cost",
            "Embeddings",
            "ErrorEvent",
            "FinishEvent",
            "Message",
            "RateLimitInfo",
            "ReasoningDelta",
            "Step",
            "StreamEvent",
            "TextDelta",
            "TextPart",
            "Tool",
            "ToolCall",
            "ToolCallDelta",
            "ToolCallEvent",
            "ToolResult",
            "ToolResultEvent",
            "Usage",
            "UsageEvent",
        ],
        "._types",
    ),
}

__all__ = [
    "AIClient",
    "AsyncAIClient",
    "AsyncBatches",
    "AsyncCaches",
    "AsyncChatClient",
    "AsyncChatStream",
    "Attempt",
    "AudioPart",
    "BatchCounts",
    "BatchJob",
    "BatchLimits",
    "BatchPart",
    "BatchRequest",
    "BatchRequestCancelledError",
    "BatchRequestExpiredError",
    "BatchRequestNotRunError",
    "BatchRequestResult",
    "BatchResult",
    "BatchStatus",
    "BatchWaitTimeoutError",
    "Batches",
    "Budget",
    "BudgetExceededError",
    "CachePoint",
    "CacheStats",
    "CachedContent",
    "Caches",
    "ChatClient",
    "ChatParams",
    "ChatResponse",
    "ChatStream",
    "Cost",
    "DocumentPart",
    "Embeddings",
    "ErrorEvent",
    "FinishEvent",
    "HealthStatus",
    "ImagePart",
    "MemoryCache",
    "Message",
    "PriceTable",
    "Prompt",
    "PromptVariable",
    "ProviderSpec",
    "RateLimitInfo",
    "Reasoning",
    "ReasoningDelta",
    "ReasoningPart",
    "RedisCache",
    "ResponseCache",
    "SQLiteCache",
    "SSEDecoder",
    "ScoredItem",
    "ServerSentEvent",
    "Step",
    "StreamDecodeError",
    "StreamEvent",
    "StreamInterruptedError",
    "StructuredOutputError",
    "TextDelta",
    "TextItem",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallEvent",
    "ToolResult",
    "ToolResultEvent",
    "UnsupportedParameterError",
    "Usage",
    "UsageEvent",
    "__version__",
    "amap_batch",
    "map_batch",
    "openai_compatible",
    "register_capabilities",
    "set_prices",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'atriumn.ai' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
