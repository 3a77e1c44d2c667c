from decimal import Decimal

from claimwright.storage import FindingRecord, Ledger


def test_documents_dedupe_by_id_and_by_sha(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    doc, created = ledger.add_document(payer="nw", remittance_id="R1", sha256="a" * 64,
                                       path="/x/R1.pdf", size=10)
    assert created
    assert not ledger.add_document(payer="nw", remittance_id="R1", sha256="b" * 64,
                                   path="/x/R1b.pdf", size=10)[1]
    assert not ledger.add_document(payer="nw", remittance_id="R2", sha256="a" * 64,
                                   path="/x/R2.pdf", size=10)[1]
    assert ledger.known_remittance_ids("nw") == {"R1"}
    assert ledger.has_document("nw", "R1") and not ledger.has_document("other", "R1")


def test_money_is_exact_in_sqlite(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    doc, _ = ledger.add_document(payer="nw", remittance_id="R1", sha256="c" * 64, path="p",
                                 size=1)
    data = {"payer": {"id": "P"}, "payment": {"trace_number": "T", "date": "2026-01-02",
                                              "amount": "90071992547409.93"},
            "balanced": True, "claims": []}
    rec = ledger.save_remittance(doc.id, 0, data)
    row = {"key": "k", "payer_id": "P", "payer_claim_id": "C", "patient_account": "A",
           "line_number": 1, "procedure": "99213", "group_code": "CO", "carc": "50",
           "rarcs": ["N115"], "amount": Decimal("0.10") + Decimal("0.20"), "is_denial": True,
           "category": "medical necessity", "owner": "clinical documentation",
           "action": "appeal", "appealable": "yes", "rule_id": "r1", "appeal_due": None,
           "priority": Decimal("55.5")}
    assert ledger.save_findings(rec.id, [row]) == 1
    assert ledger.save_findings(rec.id, [row]) == 0
    with ledger.session() as s:
        stored = s.query(FindingRecord).one()
        assert stored.amount == Decimal("0.30")
    assert ledger.remittances(doc.id)[0].amount == Decimal("90071992547409.93")


def test_outputs_recorded_once(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    assert ledger.record_outputs("packet", [("k1", "p1", "s1"), ("k2", "p2", "s2")]) == 2
    assert ledger.record_outputs("packet", [("k1", "p1", "s1"), ("k3", "p3", "s3")]) == 1
    assert ledger.output_keys("packet") == {"k1", "k2", "k3"}
    assert ledger.output_keys("worklist-row") == set()


def test_parallel_pulls_opening_a_fresh_ledger_do_not_race_on_its_schema(tmp_path):
    """Payers run in parallel threads; each opens the ledger. On a fresh database all of them
    create the tables at once (this failed with 'table documents already exists')."""
    import threading

    from claimwright.storage import Ledger

    errors: list[Exception] = []

    def open_ledger(n: int) -> None:
        try:
            ledger = Ledger(f"sqlite:///{tmp_path / 'fresh.db'}")
            ledger.add_document(payer=f"p{n}", remittance_id="R1", sha256=f"{n:064d}",
                                path="x", size=1)
            ledger.close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_ledger, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ledger = Ledger(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert {d.payer for d in ledger.documents()} == {f"p{n}" for n in range(8)}
    ledger.close()


def test_a_ledger_made_by_an_older_version_is_refused_with_what_is_missing(tmp_path):
    """A column this version needs and the database lacks: SchemaOutdated naming it, not a
    puzzling SQL error at the first insert."""
    import sqlite3

    import pytest

    from claimwright.storage import SchemaOutdated

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(url).close()
    with sqlite3.connect(tmp_path / "ledger.db") as db:  # as an older version made it
        db.execute("ALTER TABLE documents DROP COLUMN listed")
    with pytest.raises(SchemaOutdated, match=r"documents\.listed"):
        Ledger(url)
