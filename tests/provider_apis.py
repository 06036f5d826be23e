"""Local HTTP servers speaking the real model-provider protocols, playing scripted turns.

`AnthropicAPI` serves the Messages API (`POST /v1/messages`, JSON or SSE with
`message_start`, `content_block_*`, `text_delta`, `input_json_delta`,
`message_delta` with usage, `message_stop`); `OpenAIAPI` serves Chat Completions
(`POST /v1/chat/completions`, JSON or SSE chunks with `tool_calls` deltas, a
usage chunk, `data: [DONE]`). The real `langchain-anthropic` and
`langchain-openai` clients talk to them unchanged.

As unkind as the real services where the tests look: a wrong key is a 401 with
the provider's error body, a missing `max_tokens`, a `tool_use` without its
`tool_result` or (Anthropic, as Claude 4.6 and later do) a conversation ending
with an assistant message is a 400, a retired Anthropic model is a 404, and a
turn may instead be a failure as providers send them: any status with the
provider's error body and `retry-after`, a connection closed before the answer,
or (Anthropic) an `error` event after a 200.

A turn is a mapping: `text` and `tool_calls` (`name`, `args`, optional `id`)
for an answer, or `fail` with `status`, `type`, `message`, `retry_after`,
`reset: true` or `stream_error` for a failure. Requests are consumed in order
and recorded in `requests`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Turn = dict[str, Any]

ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


RETIRED_ANTHROPIC_MODELS = frozenset(
    {
        "claude-3-opus-20240229",
        "claude-3-5-sonnet-20241022",
        "claude-sonnet-4-20250514",
        "claude-opus-4-20250514",
        "claude-opus-4-1-20250805",
    }
)
"""Model ids the Messages API answers with 404 `not_found_error` ("model: <id>")."""


@dataclass
class Recorded:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ProviderAPI:
    """What both servers share: the key, the script, the record of requests."""

    api_key: str
    turns: list[Turn] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    chunk_chars: int = 7
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def play(self, *turns: Turn) -> None:
        self.turns.extend(turns)

    def next_id(self) -> int:
        return next(self._ids)

    def next_turn(self) -> Turn | None:
        return self.turns.pop(0) if self.turns else None

    async def reset_connection(self, request: web.Request) -> web.StreamResponse:
        """Close the socket before any answer, as a dropped connection does."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        # aiohttp needs a response object; the peer never sees it.
        return web.Response(status=500)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(event: str | None, data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


# -- Anthropic Messages ---------------------------------------------------------


@dataclass
class AnthropicAPI(ProviderAPI):
    def error(
        self, status: int, message: str, kind: str | None = None, **headers: str
    ) -> web.Response:
        body = {
            "type": "error",
            "error": {
                "type": kind or ANTHROPIC_ERROR_TYPES.get(status, "api_error"),
                "message": message,
            },
        }
        return web.json_response(
            body, status=status, headers={"request-id": f"req_{self.next_id()}", **headers}
        )

    async def messages(self, request: web.Request) -> web.StreamResponse:
        # The SDK sends the key as `x-api-key` or (newer) `Authorization: Bearer`.
        keys = {request.headers.get("x-api-key"), request.headers.get("authorization")}
        if not keys & {self.api_key, f"Bearer {self.api_key}"}:
            return self.error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        body = await request.json()
        self.requests.append(Recorded(dict(request.headers), body))
        if body.get("model") in RETIRED_ANTHROPIC_MODELS:
            return self.error(404, f"model: {body['model']}")
        problem = _anthropic_request_problem(body)
        if problem:
            return self.error(400, problem)
        turn = self.next_turn()
        if turn is None:
            return self.error(
                400, f"scripted server: no turn left for request {len(self.requests)}"
            )
        if "fail" in turn:
            failure = turn["fail"]
            if failure.get("reset"):
                return await self.reset_connection(request)
            if "stream_error" not in failure:
                headers = {}
                if "retry_after" in failure:
                    headers["retry-after"] = str(failure["retry_after"])
                return self.error(
                    failure["status"],
                    failure.get("message", "scripted failure"),
                    failure.get("type"),
                    **headers,
                )
        message = self._message(body, turn)
        if not body.get("stream"):
            return web.json_response(message, headers={"request-id": f"req_{self.next_id()}"})
        response = web.StreamResponse(
            headers={"content-type": "text/event-stream", "request-id": f"req_{self.next_id()}"}
        )
        await response.prepare(request)
        async for chunk in self._events(message, turn.get("fail", {}).get("stream_error")):
            await response.write(chunk)
        await response.write_eof()
        return response

    def _message(self, body: dict[str, Any], turn: Turn) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if turn.get("text"):
            content.append({"type": "text", "text": turn["text"]})
        for call in turn.get("tool_calls") or []:
            content.append(
                {
                    "type": "tool_use",
                    "id": call.get("id") or f"toolu_{self.next_id():024d}",
                    "name": call["name"],
                    "input": call.get("args", {}),
                }
            )
        return {
            "id": f"msg_{self.next_id():024d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": "tool_use" if turn.get("tool_calls") else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": _count_tokens(body),
                "output_tokens": max(1, len(json.dumps(content)) // 4),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }

    async def _events(
        self, message: dict[str, Any], stream_error: str | None
    ) -> AsyncIterator[bytes]:
        usage = message["usage"]
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        yield _sse("message_start", {"type": "message_start", "message": start})
        if stream_error:
            yield _sse(
                "error",
                {"type": "error", "error": {"type": stream_error, "message": "Overloaded"}},
            )
            return
        yield _sse("ping", {"type": "ping"})
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                yield _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                for piece in _pieces(block["text"], self.chunk_chars):
                    yield _sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
            else:
                yield _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": block["id"],
                            "name": block["name"],
                            "input": {},
                        },
                    },
                )
                for piece in _pieces(json.dumps(block["input"]), self.chunk_chars):
                    yield _sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
            await asyncio.sleep(0)
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                # Cumulative, as the API sends it today: input and cache counts too.
                "usage": usage,
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})


def _count_tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps(body.get("messages", []))) // 4)


def _anthropic_request_problem(body: dict[str, Any]) -> str | None:
    """The checks the real API makes that a client could get wrong."""
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    if not body.get("model"):
        return "model: Field required"
    messages = body.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        return 'messages: first message must use the "user" role'
    if messages[-1].get("role") == "assistant":  # Claude 4.6 and later; the default now
        return (
            "This model does not support assistant message prefill. "
            "The conversation must end with a user message."
        )
    for position, message in enumerate(messages):
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, list):
            continue
        uses = {block["id"] for block in content if block.get("type") == "tool_use"}
        if not uses:
            continue
        following = messages[position + 1] if position + 1 < len(messages) else None
        results = {
            block.get("tool_use_id")
            for block in (following or {}).get("content") or []
            if isinstance(block, dict) and block.get("type") == "tool_result"
        }
        if not uses <= results:
            return (
                f"messages.{position + 1}: `tool_use` ids were found without `tool_result` "
                f"blocks immediately after: {', '.join(sorted(uses - results))}"
            )
    return None


# -- OpenAI Chat Completions ----------------------------------------------------


@dataclass
class OpenAIAPI(ProviderAPI):
    def error(
        self,
        status: int,
        message: str,
        kind: str | None = None,
        code: str | None = None,
        **headers: str,
    ) -> web.Response:
        kinds = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests"}
        body = {
            "error": {
                "message": message,
                "type": kind or kinds.get(status, "server_error"),
                "param": None,
                "code": code or ("invalid_api_key" if status == 401 else None),
            }
        }
        return web.json_response(
            body, status=status, headers={"x-request-id": f"req_{self.next_id()}", **headers}
        )

    async def completions(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error(
                401,
                "Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.",
            )
        body = await request.json()
        self.requests.append(Recorded(dict(request.headers), body))
        problem = _openai_request_problem(body)
        if problem:
            return self.error(400, problem)
        turn = self.next_turn()
        if turn is None:
            return self.error(
                400, f"scripted server: no turn left for request {len(self.requests)}"
            )
        if "fail" in turn:
            failure = turn["fail"]
            if failure.get("reset"):
                return await self.reset_connection(request)
            headers = {}
            if "retry_after" in failure:
                headers["retry-after"] = str(failure["retry_after"])
            return self.error(
                failure["status"],
                failure.get("message", "scripted failure"),
                failure.get("type"),
                **headers,
            )
        completion_id = f"chatcmpl-{self.next_id()}"
        calls = [
            {
                "id": call.get("id") or f"call_{self.next_id():08d}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call.get("args", {}))},
            }
            for call in turn.get("tool_calls") or []
        ]
        usage = {
            "prompt_tokens": max(1, len(json.dumps(body["messages"])) // 4),
            "completion_tokens": max(1, (len(turn.get("text", "")) + len(json.dumps(calls))) // 4),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        finish = "tool_calls" if calls else "stop"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": turn.get("text") or None}
            if calls:
                message["tool_calls"] = calls
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                    ],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            return _sse(
                None,
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "delta": delta,
                            "finish_reason": finish_reason,
                            "logprobs": None,
                        }
                    ],
                },
            )

        await response.write(chunk({"role": "assistant", "content": ""}))
        for piece in _pieces(turn.get("text", ""), self.chunk_chars):
            await response.write(chunk({"content": piece}))
        for index, call in enumerate(calls):
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            await response.write(chunk({"tool_calls": [head]}))
            for piece in _pieces(call["function"]["arguments"], self.chunk_chars):
                await response.write(
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                )
        await response.write(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(
                _sse(
                    None,
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": body["model"],
                        "choices": [],
                        "usage": usage,
                    },
                )
            )
        await response.write(_sse(None, "[DONE]"))
        await response.write_eof()
        return response


def _openai_request_problem(body: dict[str, Any]) -> str | None:
    if not body.get("model"):
        return "you must provide a model parameter"
    messages = body.get("messages") or []
    for position, message in enumerate(messages):
        calls = {call["id"] for call in message.get("tool_calls") or []}
        if message.get("role") != "assistant" or not calls:
            continue
        answered = set()
        for later in messages[position + 1 :]:
            if later.get("role") != "tool":
                break
            answered.add(later.get("tool_call_id"))
        if not calls <= answered:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(calls - answered))}"
            )
    return None


# -- starting them --------------------------------------------------------------


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def start_anthropic(api_key: str) -> tuple[AnthropicAPI, web.AppRunner]:
    api = AnthropicAPI(api_key=api_key)
    app = web.Application()
    app.router.add_post("/v1/messages", api.messages)
    runner, api.url = await _serve(app)
    return api, runner


async def start_openai(api_key: str) -> tuple[OpenAIAPI, web.AppRunner]:
    api = OpenAIAPI(api_key=api_key)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", api.completions)
    runner, url = await _serve(app)
    api.url = f"{url}/v1"
    return api, runner
