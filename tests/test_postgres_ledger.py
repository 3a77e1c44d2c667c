"""The ledger on PostgreSQL (psycopg 3): types round-trip, and double processing is impossible,
not unlikely: threads and processes racing to create the schema, add the same document, add the
same unit, take the same unit or open the same review item: exactly one wins, nothing raises.

A deterministic race too: another transaction holds the same document's row uncommitted while
``add_document`` checks (sees nothing) and inserts (waits on the unique index); once the other
commits, ``add_document`` must return the winner's document, not raise."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from claimwright.storage import Ledger
from claimwright.types import UnitKind, UnitState

RACERS = 8


@pytest.fixture
def pg_url(postgres, request):
    """A fresh database for each test (the schema race starts from nothing)."""
    name = "race_" + request.node.name.removeprefix("test_")[:40].lower()
    with postgres.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.url(name)


def _race(fn, n: int = RACERS) -> list:
    """Run ``fn(i)`` in ``n`` threads released together; every result (an exception fails)."""
    start = threading.Barrier(n, timeout=30)

    def run(i):
        start.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return [f.result() for f in [pool.submit(run, i) for i in range(n)]]


def _wait_for_lock_waiter(postgres, database: str, timeout: float = 20) -> None:
    """Until a session of ``database`` waits on a lock (polled, bounded)."""
    deadline = time.monotonic() + timeout
    with postgres.connect() as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                            "AND wait_event_type = 'Lock'", (database,)).fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("add_document never waited on the uncommitted row")


def _doc(ledger: Ledger, rid: str = "NW-RA-0001", sha: str = "a" * 64):
    return ledger.add_document(payer="northwind", remittance_id=rid, sha256=sha,
                               path=f"/x/{rid}.pdf", size=10, listed={"amount": "1.00"})


def test_threads_creating_the_schema_and_adding_one_document_exactly_one_wins(pg_url):
    ledgers = _race(lambda i: Ledger(pg_url))  # create_all at once on an empty database
    try:
        results = _race(lambda i: _doc(ledgers[i]))
        assert sum(created for _, created in results) == 1
        assert len({doc.id for doc, _ in results}) == 1
        assert len(ledgers[0].documents()) == 1
        [unit] = ledgers[0].units(UnitKind.PARSE)
        assert unit.key == "northwind:NW-RA-0001" and unit.state == UnitState.PENDING
    finally:
        for ledger in ledgers:
            ledger.close()


def test_add_document_returns_the_winner_when_its_insert_loses_the_unique_race(pg_url, postgres):
    ledger = Ledger(pg_url)
    try:
        other = postgres.connect(pg_url.rsplit("/", 1)[1])
        other.autocommit = False
        other.execute("INSERT INTO documents (payer, remittance_id, sha256, path, size, listed, "
                      "downloaded_at) VALUES ('northwind', 'NW-RA-0001', %s, '/y.pdf', 5, '{}', "
                      "now())", ("a" * 64,))  # uncommitted: invisible to add_document's check
        result = {}
        racer = threading.Thread(target=lambda: result.setdefault("r", _doc(ledger)))
        racer.start()
        _wait_for_lock_waiter(postgres, pg_url.rsplit("/", 1)[1])  # its INSERT waits there
        assert racer.is_alive()
        other.commit()
        racer.join(30)
        doc, created = result["r"]
        assert created is False and doc.path == "/y.pdf"
        assert ledger.units(UnitKind.PARSE) == []  # the loser queued nothing
        other.close()
    finally:
        ledger.close()


def test_units_and_review_items_raced_by_threads_exactly_one_wins(pg_url):
    ledgers = [Ledger(pg_url) for _ in range(RACERS)]
    try:
        assert sum(_race(lambda i: ledgers[i].add_unit(UnitKind.PARSE, "k1", payer="p"))) == 1
        now = dt.datetime(2024, 7, 1, 2, 30)
        current = ledgers[0].unit(UnitKind.PARSE, "k1")
        taken = _race(lambda i: ledgers[i].take_unit(
            current, f"host:{i}:run", lease_until=now + dt.timedelta(minutes=5), now=now))
        winners = [t for t in taken if t is not None]
        assert len(winners) == 1
        after = ledgers[0].unit(UnitKind.PARSE, "k1")
        assert after.attempts == 1 and after.owner == winners[0].owner
        assert after.state == UnitState.IN_PROGRESS

        opened = _race(lambda i: ledgers[i].upsert_review_item(
            key="parse:k1", kind="parse-failed", reason="r", payer="p", context={}, evidence=[]))
        assert sum(created for _, created in opened) == 1
        [item] = ledgers[0].review_items()
        assert item.occurrences == RACERS
        assert sum(ledgers[0].record_outputs("packet", [("k", "/p.pdf", "s")]) for _ in range(2)) == 1
        assert sum(_race(lambda i: ledgers[i].record_outputs(
            "worklist-row", [("row-1", "/w.xlsx", "")]))) == 1
        assert len(ledgers[0].outputs("worklist-row")) == 1
    finally:
        for ledger in ledgers:
            ledger.close()


def _process_racer(url: str, start, out) -> None:
    ledger = Ledger(url)
    try:
        start.wait()
        _, created = _doc(ledger, "NW-RA-0002", "b" * 64)
        now = dt.datetime(2024, 7, 1, 2, 30)
        current = ledger.unit(UnitKind.PARSE, "northwind:NW-RA-0002")
        start.wait()  # every process read the same pending unit before any takes it
        taken = ledger.take_unit(current, f"host:{multiprocessing.current_process().pid}:run",
                                 lease_until=now + dt.timedelta(minutes=5), now=now)
        out.put((created, taken is not None))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        out.put(repr(exc))
    finally:
        ledger.close()


def test_processes_racing_add_document_and_take_unit_exactly_one_wins(pg_url):
    Ledger(pg_url).close()
    mp = multiprocessing.get_context("fork")
    n = 4
    start, out = mp.Barrier(n, timeout=30), mp.Queue()
    procs = [mp.Process(target=_process_racer, args=(pg_url, start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(created for created, _ in results) == 1
    assert sum(took for _, took in results) == 1
    ledger = Ledger(pg_url)
    try:
        assert ledger.unit(UnitKind.PARSE, "northwind:NW-RA-0002").attempts == 1
    finally:
        ledger.close()


def test_values_round_trip_on_postgresql(pg_url):
    ledger = Ledger(pg_url)
    try:
        doc, _ = _doc(ledger)
        data = {"payer": {"id": "NW1"}, "payment": {"trace_number": "EFT1", "date": "2024-06-27",
                                                    "amount": "1234.56"},
                "balanced": True, "claims": [{"id": "c1"}]}
        rec = ledger.save_remittance(doc.id, 0, data)
        again = ledger.remittances(doc.id)[0]
        assert again.amount == Decimal("1234.56") and isinstance(again.amount, Decimal)
        assert again.payment_date == dt.date(2024, 6, 27) and again.data == data
        assert ledger.remittance_data(rec.id) == data
        assert ledger.documents()[0].listed == {"amount": "1.00"}
    finally:
        ledger.close()


def test_no_postgresql_skips_here_but_fails_in_ci(monkeypatch):
    import pg

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(pg.glob, "glob", lambda pattern: [])
    with pytest.raises(pg.NoPostgres, match="make postgres"):
        pg.find_bindir()
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        pg.unavailable("no initdb")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        pg.unavailable("no initdb")
