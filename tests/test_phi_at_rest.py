"""PHI at rest: everything the project writes under its home and output folders is owner-only
(0700 folders, 0600 files) after a demo-sized run, the start-up check finds what is not, and a
kept Playwright trace holds no session cookie or authorization header."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from portal_fixtures import maintenance_after_sign_in, module_portal, portal_state, \
    write_sample_dataset

WIDE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))
_HEADERS = (b"cookie", b"set-cookie", b"authorization", b"proxy-authorization")

northwind_server, portal = module_portal(
    "northwind", lambda folder: write_sample_dataset("northwind", folder, count=3))


def _issued_tokens(server, monkeypatch) -> list[str]:
    """Every session token the portal hands out from now on (the cookies' values)."""
    state = portal_state(server)
    issued: list[str] = []
    original = state.open_session

    def open_session(username: str) -> str:
        issued.append(original(username))
        return issued[-1]

    monkeypatch.setattr(state, "open_session", open_session)
    return issued


def _zip_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return b"".join(archive.read(name) for name in archive.namelist())


@pytest.mark.browser
def test_a_kept_trace_holds_no_session_cookie_or_authorization_header(
        portal, tmp_path, monkeypatch, fast_northwind_config):
    issued = _issued_tokens(portal, monkeypatch)
    fault = maintenance_after_sign_in(portal, fast_northwind_config, tmp_path, monkeypatch)
    trace = Path(fault.context["trace"])
    blob = _zip_bytes(trace)
    assert issued, "the bot signed in: the portal issued a session cookie"
    assert b"Scheduled maintenance" in blob  # still the trace of the failed step
    for token in issued:
        assert token.encode() not in blob
    lowered = blob.lower()
    for header in _HEADERS:
        assert b'"' + header + b'"' not in lowered, header
    assert b"NWSESSION" not in blob


# permissions after a demo-sized run ------------------------------------------------------------
def _not_private(*roots: Path) -> list[str]:
    """Every dir under ``roots`` that is not 0700 and every file that is not 0600."""
    wrong = []
    for root in roots:
        for path in [root, *root.rglob("*")]:
            mode = path.lstat().st_mode & 0o777
            want = 0o700 if path.is_dir() else 0o600
            if mode != want:
                wrong.append(f"{oct(mode)} {path.relative_to(root.parent)}")
    return wrong


@pytest.fixture
def shared_umask():
    """A umask that lets group and others read (022): the writers must make files private
    themselves, not rely on the entry points' umask."""
    old = __import__("os").umask(0o022)
    yield
    __import__("os").umask(old)


@pytest.mark.browser
def test_a_demo_sized_run_leaves_home_and_out_owner_only(
        shared_umask, workspace, northwind_env, portal, tmp_path, monkeypatch,
        fast_northwind_config):
    from portal_fixtures import SAMPLE_ANCHOR

    from claimwright.pipeline import Context, process_documents, pull_payer, write_outputs
    from claimwright.reports.months import Month
    from claimwright.reports.render import write_feedback_report

    env = northwind_env
    ctx = Context.from_settings()
    try:
        counts = pull_payer(ctx, "northwind", env.payment_dates[0], SAMPLE_ANCHOR,
                            base_url=env.base_url)
        assert counts.errors == [] and counts.downloaded >= 11
        process_documents(ctx, "northwind", counts)
        write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR, counts=counts)
        assert counts.review_opened >= 1  # the unbalanced anomaly: review items exist
        files = write_feedback_report(workspace, ctx.ledger, Month.of(SAMPLE_ANCHOR))
        assert files.pdf.is_file()
    finally:
        ctx.ledger.close()
    # a fault keeps a screenshot and a trace in the evidence folder
    fault = maintenance_after_sign_in(portal, fast_northwind_config, workspace.home, monkeypatch)
    assert Path(fault.context["trace"]).is_file()
    assert list(workspace.packets.rglob("*.pdf")) and list(workspace.worklist.parent.glob("*.xlsx"))
    assert (workspace.home / "claimwright.db").is_file()
    wrong = _not_private(workspace.home, workspace.out)
    assert wrong == [], "\n".join(wrong)


# the start-up check and the umask ---------------------------------------------------------------
def test_the_check_names_count_first_paths_and_fix_and_stops_early(workspace, tmp_path):
    from claimwright.fileio import private_dir
    from claimwright.permissions import check_private, roots

    private_dir(workspace.home / "evidence")
    private_dir(workspace.out / "packets")
    (workspace.home / "claimwright.db").write_bytes(b"")
    (workspace.home / "claimwright.db").chmod(0o600)
    assert not check_private(workspace)  # all owner-only: nothing to say
    shared = workspace.out / "packets" / "appeal.pdf"
    shared.write_bytes(b"%PDF-")
    shared.chmod(0o644)
    (workspace.home / "evidence").chmod(0o755)
    findings = check_private(workspace)
    assert sorted(findings.paths) == sorted([shared, workspace.home / "evidence"])
    message = findings.message(roots(workspace))
    assert message.startswith("2 path(s)") and str(shared) in message
    assert f"chmod -R go-rwx {workspace.home} {workspace.out}" in message
    for n in range(5):
        (workspace.out / f"w{n}.xlsx").write_bytes(b"")
        (workspace.out / f"w{n}.xlsx").chmod(0o640)
    bounded = check_private(workspace, limit=3)
    assert len(bounded.paths) == 3 and not bounded.complete
    assert bounded.message(roots(workspace)).startswith("3+ path(s)")


def test_every_cli_command_sets_an_owner_only_umask_and_warns_on_stderr(workspace):
    import os

    from typer.testing import CliRunner

    from claimwright.cli import app
    from claimwright.fileio import private_dir

    private_dir(workspace.home)
    (workspace.home / "leak.csv").write_text("x")
    (workspace.home / "leak.csv").chmod(0o644)
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(app, ["review", "list"])
        now = os.umask(0o022)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert now == 0o077
    assert "Warning: 1 path(s)" in result.stderr and "leak.csv" in result.stderr
    assert "chmod -R go-rwx" in result.stderr


def test_flows_start_with_the_check_on_their_run_logger(workspace, caplog):
    import logging
    import os

    from claimwright.fileio import private_dir
    from claimwright.permissions import startup

    private_dir(workspace.out)
    (workspace.out / "coding-worklist.xlsx").write_bytes(b"")
    (workspace.out / "coding-worklist.xlsx").chmod(0o664)
    old = os.umask(0o022)
    try:
        with caplog.at_level(logging.WARNING):
            findings = startup(workspace, logger=logging.getLogger("prefect.flow_runs"))
        assert os.umask(0o022) == 0o077
    finally:
        os.umask(old)
    assert findings.paths == [workspace.out / "coding-worklist.xlsx"]
    [record] = [r for r in caplog.records if r.name == "prefect.flow_runs"]
    assert "coding-worklist.xlsx" in record.getMessage()


# trace scrubbing, unit level ---------------------------------------------------------------------
def test_a_scrubbed_trace_keeps_its_entries_and_events_without_secrets(tmp_path):
    import json

    from bots.traces import scrub_trace

    request = {"type": "resource-snapshot", "snapshot": {"request": {
        "url": "http://127.0.0.1/remittances", "cookies": [{"name": "S", "value": "tok3nVALUE"}],
        "headers": [{"name": "Accept", "value": "text/html"},
                    {"name": "Cookie", "value": "S=tok3nVALUE"},
                    {"name": "Authorization", "value": "Bearer abcdef123456"}]},
        "response": {"status": 200, "headers": [{"name": "Set-Cookie", "value": "S=tok3nVALUE"}],
                     "cookies": [{"name": "S", "value": "tok3nVALUE"}]}}}
    options = {"type": "context-options", "options": {
        "storageState": {"cookies": [{"name": "S", "value": "tok3nVALUE"}]},
        "extraHTTPHeaders": {"Authorization": "Bearer abcdef123456", "X-Practice": "1"}}}
    trace = tmp_path / "t.trace.zip"
    with zipfile.ZipFile(trace, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("trace.trace", json.dumps(options) + "\n" + "not json tok3nVALUE\n")
        z.writestr("trace.network", json.dumps(request) + "\n")
        z.writestr("resources/page.html", "<p>token tok3nVALUE</p>")
        z.writestr("resources/shot.jpeg", b"\xff\xd8tok3nVALUE")
    names = zipfile.ZipFile(trace).namelist()
    scrub_trace(trace, ["tok3nVALUE"])
    assert zipfile.ZipFile(trace).namelist() == names
    assert trace.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(trace) as z:
        network = json.loads(z.read("trace.network").decode().strip())
        [opts, text, _] = z.read("trace.trace").decode().split("\n")
        page = z.read("resources/page.html")
    req = network["snapshot"]["request"]
    assert req["headers"] == [{"name": "Accept", "value": "text/html"}] and req["cookies"] == []
    assert network["snapshot"]["response"]["headers"] == []
    assert json.loads(opts)["options"] == {"storageState": None,
                                           "extraHTTPHeaders": {"X-Practice": "1"}}
    assert "tok3nVALUE" not in text and b"tok3nVALUE" not in page
