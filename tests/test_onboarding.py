"""A fourth payer is onboarded with one YAML file and no Python change.

Summit Mutual's mock portal (fixtures/portals/summit.py, a variant the test starts) follows the
login-search-paginate flow with its own paths, labels, date format, column headers and pager.
The only Summit-specific thing the bot and pipeline get is tests/data/onboarding/summit.yaml,
dropped into the selectors folder an admin would use.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from claimwright.models import Remittance

ONBOARDING = Path(__file__).parent / "data" / "onboarding" / "summit.yaml"
SELECTORS = Path(__file__).resolve().parent.parent / "selectors"


@pytest.fixture
def summit(portal_dataset, tmp_path, monkeypatch, workspace):
    from fixtures.portals.summit import DEMO_ACCOUNT, running_summit_portal

    selectors = tmp_path / "selectors"
    shutil.copytree(SELECTORS, selectors)
    shutil.copy(ONBOARDING, selectors / "summit.yaml")
    monkeypatch.setenv("CLAIMWRIGHT_SELECTORS_DIR", str(selectors))
    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_USERNAME", DEMO_ACCOUNT.username)
    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_PASSWORD", DEMO_ACCOUNT.password)
    data_dir, manifest = portal_dataset
    with running_summit_portal(data_dir) as url:
        monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_URL", url)
        yield selectors, data_dir, manifest


@pytest.mark.browser
def test_a_fourth_payer_comes_through_from_its_yaml_alone(summit):
    from claimwright.pipeline import Context, process_documents, pull_payer, write_outputs

    selectors, data_dir, manifest = summit
    entries = manifest["remittances"]
    start = min(dt.date.fromisoformat(e["payment_date"]) for e in entries)
    end = max(dt.date.fromisoformat(e["payment_date"]) for e in entries)
    ctx = Context.from_settings()
    try:
        counts = pull_payer(ctx, "summit", start, end)
        assert counts.errors == []
        assert counts.downloaded == len(entries) == counts.listed
        process_documents(ctx, "summit", counts)
        write_outputs(ctx, "summit", as_of=end, counts=counts)
        docs = {d.remittance_id: d for d in ctx.ledger.documents(payer="summit")}
        assert set(docs) == {e["remittance_id"] for e in entries}
        for entry in entries:
            truth = json.loads((data_dir / entry["truth"]).read_text())
            stored = ctx.ledger.remittances(docs[entry["remittance_id"]].id)
            assert [r.data for r in stored] == [truth], entry["remittance_id"]
        assert counts.remittances == len(entries)
        assert counts.claims == sum(len(Remittance.from_json(json.loads(
            (data_dir / e["truth"]).read_text())).claims) for e in entries)
        # what the admin's file said is what the bot used
        saved = {Path(d.path).parent.name for d in docs.values()}
        assert saved == {"summit"}
        # a rerun: everything listed is already known, nothing downloaded again
        again = pull_payer(ctx, "summit", start, end)
        assert again.downloaded == 0 and again.already_had == len(entries)
    finally:
        ctx.ledger.close()


def test_a_broken_onboarding_file_is_refused_at_start_up_naming_file_and_field(summit):
    from bots import ConfigError, load_payer_config, pull_remittances

    selectors, _, _ = summit
    path = selectors / "summit.yaml"
    path.write_text(path.read_text().replace("  submit_search:\n", "  submit_serach:\n"))
    with pytest.raises(ConfigError) as err:
        load_payer_config("summit")
    assert "summit.yaml" in err.value.message and "submit_search" in err.value.message
    with pytest.raises(ConfigError):  # before any browser starts
        pull_remittances("summit", dt.date(2024, 1, 1), dt.date(2024, 6, 30), selectors / "x")


def test_the_onboarding_file_names_credentials_only_by_reference():
    text = ONBOARDING.read_text()
    from fixtures.portals.summit import DEMO_ACCOUNT

    assert DEMO_ACCOUNT.password not in text and DEMO_ACCOUNT.username not in text
    assert "CLAIMWRIGHT_SUMMIT_PASSWORD" in text


def test_credentials_can_come_from_prefect_secret_blocks(summit, monkeypatch, prefect_api):
    """An admin may name Prefect Secret blocks instead of variables; values never enter YAML."""
    from prefect.blocks.system import Secret

    from bots import load_payer_config
    from bots.credentials import read_credentials
    from fixtures.portals.summit import DEMO_ACCOUNT

    selectors, _, _ = summit
    path = selectors / "summit.yaml"
    path.write_text(path.read_text().replace(
        "  username_env: CLAIMWRIGHT_SUMMIT_USERNAME\n  password_env: CLAIMWRIGHT_SUMMIT_PASSWORD\n",
        "  username_env: CLAIMWRIGHT_SUMMIT_USERNAME\n  password_block: summit-portal-password\n"))
    config = load_payer_config("summit")
    with pytest.raises(Exception) as missing:
        read_credentials(config)
    assert "summit-portal-password" in str(missing.value)
    assert DEMO_ACCOUNT.password not in str(missing.value)
    Secret(value=DEMO_ACCOUNT.password).save("summit-portal-password", overwrite=True)
    creds = read_credentials(config)
    assert creds.password == DEMO_ACCOUNT.password and "***" in repr(creds)


def test_a_credential_source_is_required(tmp_path):
    from bots import ConfigError, parse_payer_config
    import yaml

    data = yaml.safe_load(ONBOARDING.read_text())
    del data["credentials"]["password_env"]
    with pytest.raises(ConfigError, match=r"credentials: Value error, password: name an"):
        parse_payer_config(data, source="summit.yaml")


def test_payers_check_validates_every_file_and_names_sources_not_values(summit):
    from typer.testing import CliRunner

    from claimwright.cli import app
    from fixtures.portals.summit import DEMO_ACCOUNT

    selectors, _, _ = summit
    result = CliRunner().invoke(app, ["payers", "check"])
    assert result.exit_code == 0, result.output
    assert "ok   summit: flow login-search-paginate" in result.output
    assert "ok   northwind" in result.output
    assert DEMO_ACCOUNT.password not in result.output
    path = selectors / "summit.yaml"
    path.write_text(path.read_text().replace("flow: login-search-paginate", "flow: scrape-it"))
    result = CliRunner().invoke(app, ["payers", "check", "summit"])
    assert result.exit_code == 2  # an input that cannot be used (docs/cli.md), as layouts check
    assert "FAIL summit" in result.output and "unknown flow 'scrape-it'" in result.output
