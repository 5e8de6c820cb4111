"""The Atriumn AI API and one chat interface over OpenAI, Anthropic, Gemini and Groq."""

from ._version import __version__

__all__ = ["__version__"]
