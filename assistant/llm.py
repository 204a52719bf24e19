"""The chat model behind an OpenAI-compatible server (vLLM, llama.cpp's llama-server, Ollama, a hosted API),
through the maintained `openai` client (the optional `[llm]` extra)."""

from __future__ import annotations

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
        """The model's reply text; ModelFailed(timeout | rate_limited | unreachable | error) when there is none."""
        openai = self._openai
        try:
            response = self._client.chat.completions.create(
                model=self._model, messages=list(messages), max_tokens=self._max_tokens, temperature=0
            )
        except openai.APITimeoutError as exc:
            raise ModelFailed("timeout") from exc
        except openai.RateLimitError as exc:
            raise ModelFailed("rate_limited") from exc
        except openai.APIConnectionError as exc:
            raise ModelFailed("unreachable") from exc
        except openai.APIError as exc:  # any other status or a body the client cannot read
            raise ModelFailed("error", type(exc).__name__) from exc
        choices = getattr(response, "choices", None) or []
        content = choices[0].message.content if choices and choices[0].message else None
        if not isinstance(content, str):
            raise ModelFailed("error", "the reply holds no text")
        return content
