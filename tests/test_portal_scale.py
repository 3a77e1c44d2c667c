"""The mock portals' volume knob: ``--scale N`` (remittances per payer) and ``--claims-factor``."""

from __future__ import annotations

import datetime as dt
import json
import re

import httpx
import pyotp
import pytest
from typer.testing import CliRunner

import fixtures.portals as portals
from claimwright.cli import app
from fixtures.portals import (
    dataset_dir,
    demo_account,
    ensure_dataset,
    load_documents,
    running_portal,
    serve,
)
from fixtures.remittances import build_dataset, scaled_count
from fixtures.remittances.data import plan_dataset

ANCHOR = dt.date(2026, 3, 15)
ROW = re.compile(r"<tr><td>([^<]+)</td><td>(\d\d/\d\d/\d{4})</td>")
NEXT = re.compile(r'href="([^"]+)" rel="next"')


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """northwind at scale 1 and 3 (built through ``ensure_dataset``, as ``portals serve`` does)."""
    root = tmp_path_factory.mktemp("portal-volume")
    return {scale: ensure_dataset("northwind", root, anchor=ANCHOR, scale=scale)
            for scale in (1, 3)}


def manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def test_scale_1_is_todays_dataset(volumes, remittance_dataset):
    _, today = remittance_dataset("northwind", ANCHOR)
    folder = volumes[1]
    assert folder == dataset_dir(folder.parent, "northwind") and folder.name == "northwind"
    ours = manifest(folder)
    assert ours == today and "claims_factor" not in ours
    assert [(e["remittance_id"], e["sha256"]) for e in ours["remittances"]] == \
        [(e["remittance_id"], e["sha256"]) for e in today["remittances"]]
    assert scaled_count(1) == 14


def test_scale_3_triples_the_regular_remittances_with_distinct_ids(volumes):
    one, three = manifest(volumes[1]), manifest(volumes[3])
    assert volumes[3].name == "northwind-scale3"
    regular = [e for e in three["remittances"] if e["anomaly"] is None]
    assert len(regular) == 3 * 14 and len(three["remittances"]) == 3 * 14 + 2
    ids = [e["remittance_id"] for e in three["remittances"]]
    assert len(set(ids)) == len(ids)
    # each index draws from its own stream: scale 3 starts with scale 1's regular remittances
    assert [(e["remittance_id"], e["sha256"]) for e in regular[:14]] == \
        [(e["remittance_id"], e["sha256"]) for e in one["remittances"][:14]]
    days = {dt.date.fromisoformat(e["payment_date"]) for e in three["remittances"]}
    assert min(days) >= ANCHOR - dt.timedelta(days=45) and max(days) < ANCHOR
    assert len(days) > 20  # spread over the window, not piled on a few days


def _login(client: httpx.Client) -> None:
    account = demo_account("northwind")
    client.post("/login", data={"username": account.username, "password": account.password})
    done = client.post("/login/mfa", data={"code": pyotp.TOTP(account.totp_secret).now()})
    assert done.status_code == 303


def test_the_portal_lists_every_remittance_of_scale_3_in_the_nightly_window(volumes):
    expected = [d.remittance_id for d in load_documents(volumes[3], "northwind")]
    start = ANCHOR - dt.timedelta(days=45)  # the nightly flow's default look-back
    with running_portal("northwind", volumes[3]) as url, \
            httpx.Client(base_url=url, timeout=10) as client:
        _login(client)
        listed, pages = [], 0
        target = f"/remittances/search?from={start:%m/%d/%Y}&to={ANCHOR:%m/%d/%Y}"
        while target:
            page = client.get(target)
            assert page.status_code == 200
            listed += [m.group(1) for m in ROW.finditer(page.text)]
            pages += 1
            found = NEXT.search(page.text)
            target = found.group(1).replace("&amp;", "&") if found else None
    assert listed == expected and len(listed) == 44 and pages == 5


def test_clearpath_api_pages_cover_scale_2(tmp_path):
    folder = ensure_dataset("clearpath", tmp_path, anchor=ANCHOR, scale=2)
    docs = load_documents(folder, "clearpath")
    account = demo_account("clearpath")
    with running_portal("clearpath", folder) as url, \
            httpx.Client(base_url=url, timeout=10) as client:
        client.post("/signin", data={"email": account.username, "password": account.password})
        seen = []
        for payer in ("Summit Mutual", "Lakeshore Care"):
            number, pages = 1, 1
            while number <= pages:
                answer = client.get("/api/v2/remittances", params={"payer": payer,
                                                                   "page": str(number)})
                assert answer.status_code == 200, answer.text
                body = answer.json()
                pages = body["pages"]
                seen += [item["eraId"] for item in body["items"]]
                number += 1
    assert sorted(seen) == sorted(d.remittance_id for d in docs) and len(seen) == 2 * 14 + 2


def test_claims_factor_multiplies_claims_and_is_its_own_build(tmp_path):
    base = plan_dataset("keystone", seed=7, count=4, anchor=ANCHOR, anomalies=False)
    double = plan_dataset("keystone", seed=7, count=4, anchor=ANCHOR, anomalies=False,
                          claims_factor=2)
    for one, two in zip(base, double):
        assert one.remittance_id == two.remittance_id
        assert len(two.remittance.claims) >= 2 * len(one.remittance.claims) - 2  # + quirk claims
        assert len(two.remittance.claims) > len(one.remittance.claims)
        assert not two.remittance.problems
    first = build_dataset("northwind", tmp_path, count=2, anchor=ANCHOR, anomalies=False,
                          claims_factor=2)
    assert first["claims_factor"] == 2
    again = build_dataset("northwind", tmp_path, count=2, anchor=ANCHOR, anomalies=False)
    assert "claims_factor" not in again  # a factor-2 build is not reused for factor 1
    assert sum(e["claim_count"] for e in again["remittances"]) < \
        sum(e["claim_count"] for e in first["remittances"])
    assert dataset_dir(tmp_path, "northwind", scale=2, claims_factor=3).name == \
        "northwind-scale2-claims3"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_volume_must_be_a_whole_number_of_at_least_one(tmp_path, bad):
    with pytest.raises(ValueError, match="whole number >= 1"):
        serve(["northwind"], data_dir=tmp_path, scale=bad)
    with pytest.raises(ValueError, match="whole number >= 1"):
        dataset_dir(tmp_path, "northwind", claims_factor=bad)
    with pytest.raises(ValueError, match="whole number >= 1"):
        scaled_count(bad)
    assert not list(tmp_path.iterdir())  # nothing built


@pytest.mark.parametrize("command", [["portals", "serve"], ["demo"]])
@pytest.mark.parametrize("option", ["--scale", "--claims-factor"])
@pytest.mark.parametrize("value", ["0", "-3"])
def test_cli_refuses_zero_or_negative_volume(command, option, value):
    out = CliRunner().invoke(app, [*command, option, value], env={"COLUMNS": "200"})
    assert out.exit_code == 2
    assert f"Invalid value for '{option}'" in out.output
    assert "greater than or equal to 1" in out.output


def test_cli_passes_the_volume_on(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(tmp_path))
    seen = {}
    monkeypatch.setattr(portals, "serve", lambda payers, **kw: seen.update(kw, payers=payers))
    out = CliRunner().invoke(app, ["portals", "serve", "--scale", "15", "--claims-factor", "2",
                                   "--payer", "keystone"])
    assert out.exit_code == 0, out.output
    assert (seen["scale"], seen["claims_factor"], seen["payers"]) == (15, 2, ["keystone"])
    import claimwright.demo

    monkeypatch.setattr(claimwright.demo, "run_demo", lambda **kw: seen.update(demo=kw) or 0)
    out = CliRunner().invoke(app, ["demo", "--scale", "4"])
    assert out.exit_code == 0, out.output
    assert seen["demo"]["scale"] == 4 and seen["demo"]["claims_factor"] == 1
    defaults = CliRunner().invoke(app, ["portals", "serve"])
    assert defaults.exit_code == 0 and seen["scale"] == 1 and seen["claims_factor"] == 1
