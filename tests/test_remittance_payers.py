"""Synthetic datasets of every payer: manifest shape, field-exact parse, layout detection."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from claimwright.parsing.pdf import parse_pdf
from fixtures.remittances import PAYERS, build_dataset

ANCHOR = dt.date(2026, 3, 2)
KEYS = {"remittance_id", "payment_date", "trace_number", "payment_method", "amount",
        "claim_count", "page_count", "pdf", "truth", "sha256", "anomaly"}


@pytest.mark.parametrize("payer", ["keystone", "clearpath"])
def test_new_payer_datasets_parse_exactly(payer, tmp_path):
    manifest = build_dataset(payer, tmp_path, count=6, anchor=ANCHOR)
    assert manifest["payer"] == payer and len(manifest["remittances"]) == 8
    assert build_dataset(payer, tmp_path, count=6, anchor=ANCHOR) == manifest
    for entry in manifest["remittances"]:
        assert KEYS <= set(entry)
        truth = json.loads((tmp_path / entry["truth"]).read_text())
        remit = parse_pdf(tmp_path / entry["pdf"])
        assert remit.layout == PAYERS[payer].layout
        assert remit.to_json() == truth


def test_clearinghouse_relays_several_payers(tmp_path):
    manifest = build_dataset("clearpath", tmp_path, count=10, anchor=ANCHOR, anomalies=False)
    names = {json.loads((tmp_path / e["truth"]).read_text())["payer"]["name"]
             for e in manifest["remittances"]}
    assert names == {"Summit Mutual", "Lakeshore Care"}


def _comparable(truth: dict) -> dict:
    out = {k: v for k, v in truth.items() if k not in ("format", "layout", "problems")}
    out["claims"] = [{k: v for k, v in c.items() if k != "pages"} for c in truth["claims"]]
    return out


def test_keystone_offers_each_remittance_as_an_835_too(tmp_path):
    from claimwright.parsing.x12 import parse_835

    manifest = build_dataset("keystone", tmp_path, count=6, anchor=ANCHOR)
    for entry in manifest["remittances"]:
        truth = json.loads((tmp_path / entry["truth"]).read_text())
        (remit,) = parse_835((tmp_path / entry["x12"]).read_bytes())
        assert remit.format == "x12-835"
        assert _comparable(remit.to_json()) == _comparable(truth)
        assert bool(remit.problems) == bool(truth["problems"])


def test_ground_truth_over_every_layout_150_remittances(tmp_path):
    """Hundreds of randomized remittances across the layouts: every field equal, 100%."""
    checked = 0
    for payer in ["northwind", "keystone", "clearpath"]:
        for seed in (21, 22):
            out = tmp_path / f"{payer}-{seed}"
            manifest = build_dataset(payer, out, seed=seed, count=23, anchor=ANCHOR)
            for entry in manifest["remittances"]:
                truth = json.loads((out / entry["truth"]).read_text())
                assert parse_pdf(out / entry["pdf"]).to_json() == truth, entry["remittance_id"]
                checked += 1
    assert checked == 150


@pytest.mark.parametrize("payer", ["keystone", "clearpath"])
def test_quirks_appear_and_parse(payer, tmp_path):
    manifest = build_dataset(payer, tmp_path, anchor=ANCHOR)
    statuses, plb = set(), set()
    for entry in manifest["remittances"]:
        truth = json.loads((tmp_path / entry["truth"]).read_text())
        assert parse_pdf(tmp_path / entry["pdf"]).to_json() == truth
        statuses.update(c["status_code"] for c in truth["claims"])
        plb.update(p["reason"] for p in truth["provider_adjustments"])
        for claim in truth["claims"]:
            if claim["status_code"] == "22":
                assert claim["paid"].startswith("-") and claim["billed"].startswith("-")
    assert {"1", "2", "4", "22"} <= statuses
    assert {"L6", "WO", "FB", "50"} <= plb
