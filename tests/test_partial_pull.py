"""A pull that stops part-way keeps what it took: recorded now, never downloaded again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from claimwright.errors import SystemFault

START, END = dt.date(2024, 6, 1), dt.date(2024, 6, 30)


def _doc(tmp_path, rid: str):
    from bots import DownloadedDocument

    path = tmp_path / "dl" / f"{rid}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4 " + rid.encode() + b"\n%%EOF")
    return DownloadedDocument(payer="northwind", remittance_id=rid, path=path,
                              sha256=rid.rjust(64, "0"), size=path.stat().st_size,
                              payment_date=START, trace_number="T" + rid, amount=Decimal("1.00"),
                              url="http://127.0.0.1:9/" + rid)


def test_run_pull_hands_what_was_taken_to_the_caller_with_the_fault(monkeypatch, tmp_path):
    import bots.portals as portals
    from bots import PullResult
    from bots.pull import PullRun, run_pull

    def pull(session, run):
        run.result.downloaded.append(_doc(tmp_path, "R1"))
        raise SystemFault("northwind: download: circuit open", retryable=False,
                          code="circuit-open")

    monkeypatch.setattr(portals, "get_flow", lambda name: SimpleNamespace(pull=pull))
    session = SimpleNamespace(config=SimpleNamespace(payer="northwind", flow="x"),
                              start=lambda: None)
    result = PullResult("northwind", START, END)
    with pytest.raises(SystemFault) as info:
        run_pull(session, PullRun(session, result, tmp_path, lambda rid: False))
    assert info.value.partial_result is result
    assert info.value.context["downloaded"] == ["R1"]


def test_pipeline_records_a_partial_pull_and_the_next_run_skips_it(monkeypatch, tmp_path,
                                                                   workspace):
    import bots
    from bots import PullResult
    from claimwright.pipeline import Context, pull_payer

    calls: list[set[str]] = []

    def failing_pull(payer, start, end, dest_dir, *, is_known, **kwargs):
        calls.append({rid for rid in ("R1", "R2", "R3") if is_known(rid)})
        result = PullResult(payer, start, end, listed=3)
        result.downloaded += [_doc(tmp_path, "R1"), _doc(tmp_path, "R2")]
        fault = SystemFault(f"{payer}: download: portal answered HTTP 503", retryable=True,
                            code="http-5xx", step="download")
        fault.partial_result = result
        raise fault

    monkeypatch.setattr(bots, "pull_remittances", failing_pull)
    ctx = Context.from_settings()
    try:
        counts = pull_payer(ctx, "northwind", START, END)
        assert counts.downloaded == 2 and counts.review_opened == 1
        assert len(counts.errors) == 1 and "HTTP 503" in counts.errors[0]
        assert ctx.ledger.known_remittance_ids("northwind") == {"R1", "R2"}
        [item] = ctx.queue.items()
        assert item.kind == "portal-failure"
        again = pull_payer(ctx, "northwind", START, END)
        assert calls[1] == {"R1", "R2"}  # the second run's bot is told they are held
        assert again.downloaded == 0 and again.review_seen_again == 1
    finally:
        ctx.ledger.close()


def test_a_portal_session_past_its_time_limit_stops_keeping_what_it_took(monkeypatch, tmp_path):
    """A pull bounded as a whole (CLAIMWRIGHT_PORTAL_SESSION_LIMIT_S): once the limit has
    passed, the next page or document stops it with a system fault ``session-deadline`` that
    carries what was already downloaded; nothing is downloaded after the limit."""
    import bots.portals as portals
    from bots import ListedRemittance, PullResult
    from bots.pull import PullRun, run_pull

    now = [0.0]
    fetched: list[str] = []

    def pull(session, run):
        for rid in ("R1", "R2", "R3"):
            item = ListedRemittance(remittance_id=rid, payment_date=START, amount=Decimal("1"),
                                    trace_number="T" + rid, url="", page=1)
            run.take(item, lambda rid=rid: fetched.append(rid) or _doc(tmp_path, rid))
            now[0] += 40.0  # each document takes 40 s

    monkeypatch.setattr(portals, "get_flow", lambda name: SimpleNamespace(pull=pull))
    session = SimpleNamespace(config=SimpleNamespace(payer="northwind", flow="x"),
                              start=lambda: None,
                              rt=SimpleNamespace(take=lambda what, fetch, record, label: fetch()))
    result = PullResult("northwind", START, END)
    run = PullRun(session, result, tmp_path, lambda rid: False, time_limit_s=60,
                  clock=lambda: now[0])
    with pytest.raises(SystemFault) as info:
        run_pull(session, run)
    assert info.value.code == "session-deadline" and not info.value.retryable
    assert "60 s" in info.value.message and "CLAIMWRIGHT_PORTAL_SESSION_LIMIT_S" in info.value.message
    assert fetched == ["R1", "R2"]  # R3 was not started: the limit had passed
    assert info.value.context["downloaded"] == ["R1", "R2"]


def test_the_session_limit_is_a_setting_below_the_pull_lease(monkeypatch):
    from claimwright.settings import Settings
    from claimwright.types import UnitKind
    from claimwright.units import LEASES

    default = Settings.from_env().portal_session_limit_s
    assert 0 < default < LEASES[UnitKind.PULL].total_seconds()  # never outlives its lease
    monkeypatch.setenv("CLAIMWRIGHT_PORTAL_SESSION_LIMIT_S", "120")
    assert Settings.from_env().portal_session_limit_s == 120
