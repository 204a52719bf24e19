"""The store's writer lease in a real PostgreSQL: one writer across hosts, taken over only after it expired,
renewed while held, and fenced — a holder that lost it stops before its next write batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.core.errors import RecordsUnavailable, StoreBusy, WriterLeaseLost
from assistant.records import RecordStore
from assistant.settings import Settings
from assistant.wiring import no_fence, shared_writes, store_lock
from assistant.writer_lease import WriterLease, current_holder, try_acquire, writer_lease
from tests.fakes import FakeEmbedder, InMemoryChunkStore
from tests.postgres import fresh_database, postgres_cluster
from tests.support import ROOT, TINY_DOCS, cli_env, write_docs

pytestmark = pytest.mark.slow


@pytest.fixture
def records(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[RecordStore]:
    store = RecordStore(fresh_database(postgres_url, f"lease_{request.node.name[:40].lower()}"))
    yield store
    store.close()


def test_one_holder_at_a_time_then_the_next_with_a_newer_token(records: RecordStore) -> None:
    with writer_lease(records.engine, seconds=30) as first:
        assert try_acquire(records.engine, 30, "another host") is None
        started = time.monotonic()
        busy = r"another writer \(.+:\d+\) holds the store's writer lease"
        with pytest.raises(StoreBusy, match=busy), writer_lease(records.engine, seconds=30, wait=0.5):
            pass
        assert time.monotonic() - started >= 0.5
        first.check()  # still ours
    with writer_lease(records.engine, seconds=30) as second:
        assert second.token == first.token + 1
    assert current_holder(records.engine)[0] is None  # released


def test_a_holder_that_stopped_renewing_loses_the_lease_when_it_expires(records: RecordStore) -> None:
    token = try_acquire(records.engine, 1, "a host that crashed")  # taken, never renewed
    assert token is not None and try_acquire(records.engine, 1, "host b") is None
    stalled = WriterLease(records.engine, token, 1)
    time.sleep(1.3)
    taken = try_acquire(records.engine, 30, "host b")
    assert taken == token + 1
    with pytest.raises(WriterLeaseLost, match="nothing more was written"):
        stalled.check()
    assert not stalled.renew()


def test_a_held_lease_is_renewed_past_its_first_expiry(records: RecordStore) -> None:
    with writer_lease(records.engine, seconds=1) as held:
        time.sleep(2.5)
        assert try_acquire(records.engine, 1, "host b") is None
        held.check()


def test_a_fence_that_fails_stops_ingestion_before_its_next_write_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.pipeline import ingest_paths

    monkeypatch.setattr("ingest.pipeline.EMBED_BATCH", 1)  # one document per batch
    store = InMemoryChunkStore()

    def fence() -> None:  # the lease is lost once the first batch is written
        if store.documents():
            raise WriterLeaseLost("taken over")

    with pytest.raises(WriterLeaseLost):
        ingest_paths([write_docs(tmp_path / "docs", TINY_DOCS)], store=store, embedder=FakeEmbedder(), fence=fence)
    assert len(store.documents()) == 1  # the first batch only


def test_the_lease_replaces_the_lock_file_only_for_a_chroma_server_with_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    url = fresh_database(postgres_url, "lease_settings")
    assert not shared_writes(Settings(data_dir=tmp_path))
    assert not shared_writes(Settings(data_dir=tmp_path, database_url=url))  # type: ignore[arg-type]
    assert not shared_writes(Settings(data_dir=tmp_path, chroma_url="http://c:8000"))
    leased = Settings(data_dir=tmp_path, chroma_url="http://c:8000", database_url=url)  # type: ignore[arg-type]
    assert shared_writes(leased)
    with store_lock(leased) as fence:
        assert fence is not no_fence
        fence()
        with pytest.raises(StoreBusy), store_lock(leased):
            pass
    assert not (tmp_path / ".write.lock").exists()  # no lock file was involved
    with store_lock(Settings(data_dir=tmp_path)) as fence:
        assert fence is no_fence and (tmp_path / ".write.lock").exists()


def test_a_killed_holder_process_frees_the_lease_after_it_expires(postgres_url: str, tmp_path: Path) -> None:
    url = fresh_database(postgres_url, "lease_killed")
    RecordStore(url).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from assistant.settings import Settings
                from assistant.wiring import store_lock
                settings = Settings(data_dir={str(tmp_path)!r}, chroma_url="http://c:8000", database_url={url!r},
                                    writer_lease_seconds=2)
                with store_lock(settings):
                    print("held", flush=True)
                    time.sleep(600)
                """
            ),
        ],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        settings = Settings(data_dir=tmp_path, chroma_url="http://c:8000", database_url=url)  # type: ignore[arg-type]
        time.sleep(3)  # renewed meanwhile: still held
        with pytest.raises(StoreBusy), store_lock(settings):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        started = time.monotonic()
        with store_lock(settings, wait=10) as fence:
            fence()
        assert time.monotonic() - started <= 3  # at most one lease period after its last renewal
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_database_that_went_away_is_unavailable_for_records_and_the_fence() -> None:
    with postgres_cluster() as cluster:
        records = RecordStore(cluster.url)
        token = try_acquire(records.engine, 30, "this host")
        assert token is not None
        lease = WriterLease(records.engine, token, 30)
    # The cluster is stopped: every call is a RecordsUnavailable (a 503 with Retry-After), never a raw driver error.
    with pytest.raises(RecordsUnavailable, match="retry shortly"):
        records.counts()
    with pytest.raises(RecordsUnavailable):
        lease.check()
    with pytest.raises(RecordsUnavailable):
        try_acquire(records.engine, 30, "another host")
    lease.release()  # logs, does not raise: the lease frees itself at expiry
    records.close()
