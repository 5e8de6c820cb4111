"""``atriumn ai chat``, ``atriumn ai prompts list|create|render`` and ``atriumn ai batch ...`` (the
``atriumn.cli`` entry point; the batch commands are in :mod:`._batch_commands`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from atriumn.core import ValidationError
from atriumn.core.cli import Output, credentials_for, format_money

__all__ = ["pairs", "provider_hint", "register"]


def register(sub: Any) -> None:
    """Add the ``ai`` commands to the ``atriumn`` parser."""
    ai = sub.add_parser("ai", help="chat with LLM providers; manage prompts")
    cmds = ai.add_subparsers(dest="ai_command", required=True)

    chat = cmds.add_parser("chat", help="send a message and stream the answer to the terminal")
    chat.add_argument("message", help="the message (use - to read stdin)")
    chat.add_argument("--model", "-m", help="provider:model (default: $ATRIUMN_AI_MODEL)")
    chat.add_argument("--system", help="a system prompt")
    chat.add_argument("--max-tokens", type=int, help="the longest answer, in tokens (default: the provider's)")
    chat.add_argument("--temperature", type=float, help="sampling temperature, where the model takes one")
    chat.set_defaults(handler=_chat, hint=_provider_hint)

    from ._batch_commands import register as register_batch

    register_batch(cmds)

    prompts = cmds.add_parser("prompts", help="manage prompts of the Atriumn AI API")
    pcmds = prompts.add_subparsers(dest="prompts_command", required=True)
    ls = pcmds.add_parser("list", help="list prompts")
    ls.add_argument("--model-id", help="only prompts for this provider:model")
    ls.add_argument("--tag", action="append", default=[], help="only prompts with this tag (repeatable)")
    ls.set_defaults(handler=_list)
    create = pcmds.add_parser("create", help="create a prompt")
    create.add_argument("--name", required=True, help="the prompt's name")
    create.add_argument("--template", required=True, help="the template, with {{variable}} placeholders")
    create.add_argument("--model-id", help="the provider:model it is written for")
    create.add_argument("--description", help="what the prompt is for")
    create.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    create.set_defaults(handler=_create)
    render = pcmds.add_parser("render", help="render a prompt with variables (client-side)")
    render.add_argument("id", help="the prompt's id")
    render.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a variable (repeatable)")
    render.set_defaults(handler=_render)


def _provider_hint(exc: BaseException, args: argparse.Namespace) -> str | None:
    """What to do about a provider's failure: that provider's variables, never the Atriumn sign-in."""
    model = args.model or os.environ.get("ATRIUMN_AI_MODEL") or ""
    provider = model.partition(":")[0] if ":" in model else os.environ.get("LLM_PROVIDER", "")
    return provider_hint(exc, provider)


def provider_hint(exc: BaseException, provider: str) -> str | None:
    """What to do about a failure of ``provider``: its key or base URL variable (None for other errors)."""
    from atriumn.core import AuthenticationError, PermissionDeniedError, RequestTimeoutError, TransportError

    from ._engine import PROVIDERS

    if provider not in PROVIDERS:
        return None
    key_vars, url_vars = PROVIDERS[provider][0], PROVIDERS[provider][1]
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return f"{provider} refused the API key: check {' or '.join(key_vars)}"
    if isinstance(exc, RequestTimeoutError):
        return f"{provider} did not answer in time: check {url_vars[0]} and the network"
    if isinstance(exc, TransportError):
        return f"could not reach {provider}: check {url_vars[0]} (or unset it for the provider's own API)"
    return None


def _chat(args: argparse.Namespace, out: Output) -> int | None:
    from atriumn.ai import ChatClient, FinishEvent, TextDelta

    message = sys.stdin.read() if args.message == "-" else args.message
    if not message.strip():
        raise ValidationError("message: must not be empty (nothing was sent)")
    with ChatClient() as client:
        stream = client.stream(
            args.model, message, system=args.system, max_tokens=args.max_tokens, temperature=args.temperature
        )
        final = None
        with stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    out.text(event.text, end="")
                elif isinstance(event, FinishEvent):
                    final = event.response
        out.text()
    if final is not None:
        usage = final.usage
        cost_usd = final.cost.total if final.cost else None
        summary: dict[str, Any] = {
            "provider": final.provider,
            "model": final.model,
            "text": final.text,
            "finish_reason": final.finish_reason,
            "input_tokens": usage.input_tokens if usage else None,
            "output_tokens": usage.output_tokens if usage else None,
            "cost_usd": cost_usd,
        }
        if out.json_mode:
            out.data(summary)
        else:
            cost = f", {format_money(cost_usd)}" if cost_usd is not None else ""
            out.note(
                f"[{final.provider}:{final.model} · {summary['input_tokens']} in / "
                f"{summary['output_tokens']} out tokens{cost}]"
            )
    return None


def _ai_client(args: argparse.Namespace) -> Any:
    from atriumn.ai import AIClient

    return AIClient(credentials=credentials_for(args))


def _list(args: argparse.Namespace, out: Output) -> int | None:
    with _ai_client(args) as client:
        prompts = list(client.list_prompts(model_id=args.model_id, tags=args.tag or None))

    def table(rows: list[Any]) -> str:
        if not rows:
            return "(no prompts)"
        lines = [f"{'ID':36}  {'VERSION':>7}  NAME"]
        lines += [f"{p.id:36}  {p.version or 0:>7}  {p.name}" for p in rows]
        return "\n".join(lines)

    out.data(prompts, human=table)
    return None


def _create(args: argparse.Namespace, out: Output) -> int | None:
    with _ai_client(args) as client:
        prompt = client.create_prompt(
            name=args.name,
            template=args.template,
            model_id=args.model_id,
            description=args.description,
            tags=args.tag or None,
        )
    out.data(prompt, human=f"created prompt {prompt.id} ({prompt.name}, version {prompt.version})")
    return None


def pairs(values: list[str], option: str, what: str = "NAME") -> dict[str, str]:
    """``NAME=VALUE`` arguments of a repeatable option as a dict (a malformed one is a usage error)."""
    out: dict[str, str] = {}
    for pair in values:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValidationError(f"{option}: expected {what}=VALUE, got {pair!r}")
        out[name] = value
    return out


def _render(args: argparse.Namespace, out: Output) -> int | None:
    variables = pairs(args.var, "--var")
    with _ai_client(args) as client:
        prompt = client.get_prompt(args.id)
    text = prompt.render(**variables)
    out.data({"id": prompt.id, "rendered": text}, human=text)
    return None
