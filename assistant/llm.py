"""The chat model behind an OpenAI-compatible server (vLLM, llama.cpp's llama-server, Ollama, a hosted API),
through the maintained `openai` client (the optional `[llm]` extra)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from pydantic import SecretStr

from assistant.core.errors import ConfigurationError
from assistant.core.generation import ModelFailed
from assistant.http_deadline import DeadlineTransport


class OpenAIChat:
    """Chat completions at `base_url` (including /v1), no retries: a slow or failing model means the extractive
    answer now, not a second wait."""

    def __init__(self, base_url: str, model: str, api_key: SecretStr | None, timeout: float, max_tokens: int) -> None:
        try:
            import httpx2  # the openai client's HTTP library
            import openai
        except ImportError as exc:  # the optional [llm] extra is not installed
            raise ConfigurationError(
                "BILIM_LLM_URL needs the optional extra: pip install 'bilim-assistant[llm]'"
            ) from exc
        self._openai = openai
        # A server without keys still wants the header: any placeholder will do. The key is never logged.
        key = api_key.get_secret_value() if api_key is not None else "no-key"
        # The client's timeout bounds each read: a model trickling its reply held a question for minutes. The
        # transport bounds the whole exchange.
        transport = DeadlineTransport(httpx2, httpx2.HTTPTransport(), timeout)
        http = openai.DefaultHttpxClient(transport=cast(httpx2.BaseTransport, transport), timeout=timeout)
        self._client: Any = openai.OpenAI(
            base_url=base_url, api_key=key, timeout=timeout, max_retries=0, http_client=http
        )
        self._model = model
        self._max_tokens = max_tokens

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The model's reply text; ModelFailed(timeout | rate_limited | unreachable | error | malformed) when none."""
        openai = self._openai
        try:
            # The raw body, read here: the client trusts a 200's JSON to be a chat completion, and anything else
            # (a list, a string, `"choices": 5`, not JSON at all) would fail later, far from the model call.
            response = self._client.chat.completions.with_raw_response.create(
                model=self._model, messages=list(messages), max_tokens=self._max_tokens, temperature=0
            )
            body = response.content
        except openai.APITimeoutError as exc:
            raise ModelFailed("timeout") from exc
        except openai.RateLimitError as exc:
            raise ModelFailed("rate_limited") from exc
        except openai.APIConnectionError as exc:
            raise ModelFailed("unreachable") from exc
        except openai.APIError as exc:  # any other status or a body the client cannot read
            raise ModelFailed("error", type(exc).__name__) from exc
        return reply_text(body)


def reply_text(body: bytes) -> str:
    """The text of a chat completion's first choice; ModelFailed(malformed) for a body that is not one."""
    try:
        completion = json.loads(body)
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ModelFailed("malformed", "the reply is not JSON") from exc
    choices = completion.get("choices") if isinstance(completion, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise ModelFailed("malformed", "the reply is not a chat completion")
    content = message.get("content")
    if content is None:  # a well-formed reply without text (a refusal or a tool call)
        raise ModelFailed("error", "the reply holds no text")
    if not isinstance(content, str):
        raise ModelFailed("malformed", "the reply's content is not text")
    return content
