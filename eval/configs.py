"""Named configurations for ablations (`--config`), and the floors every report shows beside the figure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from assistant.core.retrieval import FusionConfig
from assistant.settings import Settings

ALL_LANGUAGES_LEXICAL = {"ky": 1.0, "ru": 1.0, "en": 1.0}
DEFAULT_ANSWERER: str = Settings.model_fields["answerer"].default


@dataclass(frozen=True)
class RunConfig:
    """A retrieval setup and answerer to evaluate."""

    name: str
    description: str
    fusion: FusionConfig
    stemmed: bool = True
    answerer: str = DEFAULT_ANSWERER  # a name registered in assistant.wiring
    refusal: Literal["safe", "fitted"] = "safe"  # which fitted answerability threshold refuses (Settings.refusal)
    leads: Literal["all", "likely"] = "all"  # which proposed leads are shown (Settings.leads)
    generated: bool = False  # answers written by the model at BILIM_LLM_URL (only this configuration reads it)


CONFIGS: dict[str, RunConfig] = {
    c.name: c
    for c in [
        RunConfig(
            "hybrid",
            "dense + stemmed BM25 (Kyrgyz questions, same-language chunks), RRF, number/acronym anchors, then the "
            f"default answerer (`{DEFAULT_ANSWERER}`) — the default",
            FusionConfig(),
        ),
        RunConfig(
            "refusing",
            "the default, refusing below the fitted answerability threshold of ≤ 5 % false refusals out of fold on "
            "the fit part (the default's threshold refused none there)",
            FusionConfig(),
            refusal="fitted",
        ),
        RunConfig(
            "likely-leads",
            "the default, showing a lead only when the fitted lead model finds it more likely right than wrong",
            FusionConfig(),
            leads="likely",
        ),
        RunConfig(
            "reader",
            "the default retrieval, then the trained reader (`python -m eval train-reader`): the fitted ranker's best "
            "4 sentences re-ranked by a cross-encoder from e5's first layers, refusing when it finds no answer likely",
            FusionConfig(),
            answerer="reader",
        ),
        RunConfig(
            "cosine",
            "the answer floor: the default retrieval, then the two sentences of the top 4 chunks with the highest "
            "e5 cosine to the question (each sentence embedded under its document title) — no lead, no refusal",
            FusionConfig(),
            answerer="cosine",
        ),
        RunConfig(
            "llm",
            "the default, its answers rewritten by the language model at BILIM_LLM_URL and shown when verified "
            "(else the default's answer): for a deployment to measure its own model",
            FusionConfig(),
            generated=True,
        ),
        RunConfig(
            "hybrid-noanchors",
            "the default without moving chunks that hold the question's numbers and acronyms first",
            FusionConfig(anchors=False),
        ),
        RunConfig(
            "dense", "multilingual-e5-small dense retrieval only", FusionConfig(lexical_weight={}, anchors=False)
        ),
        RunConfig(
            "lexical",
            "BM25 with the Kyrgyz stemmer / Snowball only",
            FusionConfig(dense=False, lexical_weight=ALL_LANGUAGES_LEXICAL, anchors=False),
        ),
        RunConfig(
            "lexical-plain",
            "BM25 over plain lowercased tokens only",
            FusionConfig(dense=False, lexical_weight=ALL_LANGUAGES_LEXICAL, anchors=False),
            stemmed=False,
        ),
        RunConfig("hybrid-plain", "dense + unstemmed BM25, fused like the default", FusionConfig(), stemmed=False),
        RunConfig(
            "hybrid-all",
            "dense + stemmed BM25 for every language, weight 1 (the naive fusion)",
            FusionConfig(lexical_weight=ALL_LANGUAGES_LEXICAL, same_language_lexical=False),
        ),
    ]
}

ANSWER_FLOOR = "cosine"
RETRIEVAL_FLOOR = "dense"
