"""Payers in parallel in the nightly flow (real Prefect server, real Chromium, two mock portals):
both pulls run at the same time, each holds its portal's limit, and one payer failing does not
stop the other."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import yaml

from fixtures.portals import demo_environment, running_portal
from portal_fixtures import SAMPLE_ANCHOR

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _write_config(folder, config, **changes) -> None:
    data = config.model_dump(mode="json")
    for key, value in changes.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    (folder / f"{data['payer']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def test_payers_pull_in_parallel_and_one_failing_does_not_stop_the_other(
        workspace, prefect_api, portal_dataset, tmp_path, monkeypatch, fast_northwind_config):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    from claimwright.types import ReviewKind
    from claimwright.pipeline import Context
    from flows import nightly

    data_dir, manifest = portal_dataset
    dates = sorted({dt.date.fromisoformat(r["payment_date"]) for r in manifest["remittances"]})
    start, end = dates[-3], SAMPLE_ANCHOR
    expected = {r["remittance_id"] for r in manifest["remittances"]
                if start <= dt.date.fromisoformat(r["payment_date"]) <= end}
    assert len(expected) >= 3

    # a second payer: another portal of the same kind, onboarded by its YAML alone
    selectors = tmp_path / "selectors"
    selectors.mkdir()
    _write_config(selectors, fast_northwind_config)
    _write_config(selectors, fast_northwind_config, payer="eastwind",
                  display_name="Eastwind Health (test)",
                  portal={"base_url_env": "CLAIMWRIGHT_EASTWIND_URL"},
                  credentials={"username_env": "CLAIMWRIGHT_EASTWIND_USERNAME",
                               "password_env": "CLAIMWRIGHT_EASTWIND_PASSWORD",
                               "totp_secret_env": "CLAIMWRIGHT_EASTWIND_TOTP_SECRET"})
    monkeypatch.setenv("CLAIMWRIGHT_SELECTORS_DIR", str(selectors))
    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path / "sessions"))
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
        monkeypatch.setenv(name.replace("NORTHWIND", "EASTWIND"), value)

    # Both pulls must be inside at the same time, or the barrier breaks (sequential pulls fail).
    together = threading.Barrier(2, timeout=120)
    slots_seen: dict[str, int] = {}
    real_pull = nightly.pull_payer

    def pull_when_both_started(ctx, payer, start, end, **kwargs):
        together.wait()
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name("portal-northwind")
        slots_seen[payer] = limit.active_slots
        together.wait()  # both have looked before either pull goes on
        return real_pull(ctx, payer, start, end, **kwargs)

    monkeypatch.setattr(nightly, "pull_payer", pull_when_both_started)
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name="portal-northwind", limit=1))
    try:
        with running_portal("northwind", data_dir) as north, \
                running_portal("northwind", data_dir, faults={"captcha": True}) as east:
            results = nightly.nightly_denials(
                payers=["northwind", "eastwind"], start=start, end=end,
                portal_urls={"northwind": north, "eastwind": east})
        with get_client(sync_client=True) as client:
            after = client.read_global_concurrency_limit_by_name("portal-northwind")
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name("portal-northwind")

    # northwind held its Prefect limit while pulling (eastwind has none); released afterwards
    assert slots_seen == {"northwind": 1, "eastwind": 1} and after.active_slots == 0
    north_counts, east_counts = results
    assert north_counts["payer"] == "northwind" and east_counts["payer"] == "eastwind"
    assert north_counts["downloaded"] == len(expected) and north_counts["errors"] == []
    assert north_counts["documents_parsed"] == len(expected)
    assert east_counts["downloaded"] == 0 and east_counts["review_opened"] == 1
    assert len(east_counts["errors"]) == 1 and "CAPTCHA" in east_counts["errors"][0]

    ctx = Context.from_settings()
    try:
        docs = ctx.ledger.documents()
        states = {ctx.ledger.unit("outputs", f"{d.payer}:{d.remittance_id}").state for d in docs}
        [item] = ctx.queue.items(kind=ReviewKind.PORTAL_FAILURE)
    finally:
        ctx.ledger.close()
    assert {d.remittance_id for d in docs} == expected
    assert {d.payer for d in docs} == {"northwind"} and states == {"done"}
    assert item.payer == "eastwind" and item.context["error"] == "captcha"
    assert item.context["step"] == "login" and len(item.evidence) == 1  # its screenshot


def test_portal_limit_is_a_no_op_without_a_server_side_limit(prefect_api):
    from flows.nightly import portal_limit

    with portal_limit("nobody-made-this-limit") as held:
        assert held is False
