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
