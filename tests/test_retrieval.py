"""Fusion and anchors of hybrid retrieval (pure logic), and what anchors change for a real question."""

from __future__ import annotations

from assistant.core.models import Chunk
from assistant.core.retrieval import anchors_of, fuse, rank_by_anchors
from assistant.wiring import Service


def chunk(cid: str, text: str = "", lang: str = "ky") -> Chunk:
    return Chunk(id=cid, document_id=f"{cid}.txt", position=0, text=text, start=0, end=len(text), lang=lang)  # type: ignore[arg-type]


def test_rrf_adds_the_weighted_lexical_rank_and_ties_keep_the_dense_order() -> None:
    a, b, c = chunk("a"), chunk("b"), chunk("c")
    fused = fuse([(a, 0.9), (b, 0.8)], [(b, 3.0), (c, 2.0)], lexical_weight=1.0, k=3)
    assert [sc.chunk.id for sc in fused] == ["b", "a", "c"]
    assert fused[0].dense_rank == 2 and fused[0].lexical_rank == 1
    unweighted = fuse([(a, 0.9), (b, 0.8)], [(b, 3.0), (c, 2.0)], lexical_weight=0.0, k=2)
    assert [sc.chunk.id for sc in unweighted] == ["a", "b"]


def test_anchors_are_numbers_and_acronyms_but_not_years() -> None:
    assert anchors_of("Where were the 116 Kyrgyz school principals trained in 2023?") == ["116"]
    assert anchors_of("Какая стипендия DAAD, 1 500 евро?") == ["1500", "DAAD"]
    assert anchors_of("Стипендия канча?") == [] and anchors_of("PISA-2025") == ["PISA"]


def test_chunks_holding_every_anchor_move_first_in_their_fused_order() -> None:
    ranked = fuse(
        [
            (chunk("news", "Бишкекте 116 окуучу"), 0.9),
            (chunk("plain", "Мектеп директорлору окутулду"), 0.8),
            (chunk("gold", "Кыргыз Республикасынын 116 мектеп директору ITECтин курсунда"), 0.7),
        ],
        [],
        0.0,
        3,
    )
    assert [sc.chunk.id for sc in rank_by_anchors(ranked, ["116", "ITEC"])] == ["gold", "news", "plain"]
    assert [sc.chunk.id for sc in rank_by_anchors(ranked, ["116"])] == ["news", "gold", "plain"]
    assert rank_by_anchors(ranked, ["999"]) == ranked and rank_by_anchors(ranked, []) == ranked


def test_a_number_in_an_english_question_finds_the_kyrgyz_passage(service: Service) -> None:
    answer = service.ask("Where were the 116 Kyrgyz school principals trained?")
    assert not answer.refused and any("Алабуга" in c.quote for c in answer.citations)
    assert answer.citations[0].document == "ministry-2023-policy-summary.txt"
