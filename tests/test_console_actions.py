"""The console's resolution forms (claimwright/console/actions.py) and the shared resolutions
(claimwright/resolutions.py) behind them and ``claimwright review attach|retry``: signed in
through the real /login form, each action changes the item and writes its audit event."""

from __future__ import annotations

import html
import io
import os
import re
import stat
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from portal_fixtures import SAMPLE_ANCHOR
from typer.testing import CliRunner

from claimwright import datafiles
from claimwright.console import create_app, hash_password, set_user
from claimwright.console.actions import ACTIONS
from claimwright.pipeline import Context, import_document, process_documents, write_outputs
from claimwright.types import ReviewKind, UnitKind, UnitState

PASSWORDS = {"alice": "alice-long-passphrase", "vic": "viewer-long-passphrase",
             "adam": "admin-long-passphrase"}
ROLES = {"alice": "reviewer", "vic": "viewer", "adam": "admin"}


@pytest.fixture(scope="module")
def hashes():  # the lowest cost the users file accepts, to keep the tests quick
    return {name: hash_password(pw, n=2**14) for name, pw in PASSWORDS.items()}


@pytest.fixture
def settings(workspace, hashes, monkeypatch):
    import claimwright.resolutions as resolutions
    import claimwright.retries as retries

    workspace.ensure_dirs()
    # no Prefect server configured (another test's session server may be): retries run here;
    # tests/test_retry_now.py puts the real lookup back
    monkeypatch.setattr(retries, "_api_url", lambda: None)
    for name, h in hashes.items():
        set_user(workspace.console_users, name, ROLES[name], h)
    monkeypatch.setattr(resolutions, "today", lambda: SAMPLE_ANCHOR)  # the demo data's day
    datafiles.forget()  # no local rules of another test
    yield workspace
    datafiles.forget()


@pytest.fixture
def ctx(settings):
    ctx = Context.from_settings(settings)
    yield ctx
    ctx.ledger.close()


@pytest.fixture
def app(settings):
    return create_app(settings)


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def client_of(app, name: str) -> tuple[TestClient, str]:
    """A client signed in as ``name`` through the /login form, and its CSRF token."""
    client = TestClient(app, follow_redirects=False)
    form = client.get("/login")
    signed = client.post("/login", data={"csrf_token": token_of(form.text), "username": name,
                                         "password": PASSWORDS[name]})
    assert signed.status_code == 303
    return client, token_of(client.get("/").text)


def post(client, token, item_id, route, **data):
    return client.post(f"/items/{item_id}/{route}", data={"csrf_token": token, **data})


def done(response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"/items/") and "?done=" in location
    return unquote(location.split("?done=", 1)[1])


def events(ctx, item_id) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in ctx.queue.history(item_id)]


def _item(ctx, kind=ReviewKind.UNBALANCED, key="unbalanced:northwind:NW-1"):
    return ctx.queue.open(kind, "does not add up", key=key, payer="northwind",
                          context={"remittance_id": "NW-1"}, evidence=["/x/page.png"]).item


# ---- the life of an item, roles, CSRF ---------------------------------------------------------


def test_assign_start_resolve_reopen_dismiss_change_the_item_and_record_who(app, ctx):
    item = _item(ctx)
    client, token = client_of(app, "alice")
    assert done(post(client, token, item.id, "assign", assignee="bob")) == "Assigned to bob."
    assert ctx.queue.get(item.id).assignee == "bob"
    done(post(client, token, item.id, "start"))
    assert ctx.queue.get(item.id).status == "in-review"
    done(post(client, token, item.id, "resolve", note="payer corrected it"))
    assert (ctx.queue.get(item.id).status, ctx.queue.get(item.id).resolution) == (
        "resolved", "payer corrected it")
    # a refused transition: the message on a page, 400, never a 500
    again = post(client, token, item.id, "start")
    assert again.status_code == 400 and "Item #%d: not done" % item.id in again.text
    assert 'role="alert"' in again.text and "reopen" in again.text.lower()
    done(post(client, token, item.id, "reopen", why="it came back"))
    refused = post(client, token, item.id, "dismiss", reason="  ")
    assert refused.status_code == 400 and "a reason to dismiss it is required" in refused.text
    assert ctx.queue.get(item.id).status == "open"
    admin, admin_token = client_of(app, "adam")
    done(post(admin, admin_token, item.id, "dismiss", reason="duplicate of another item"))
    final = ctx.queue.get(item.id)
    assert final.status == "dismissed" and final.evidence == ["/x/page.png"]  # evidence kept
    assert events(ctx, item.id)[1:] == [
        ("assigned", "alice"), ("started", "alice"), ("resolved", "alice"),
        ("reopened", "alice"), ("dismissed", "adam")]
    missing = post(client, token, 9999, "resolve", note="x")
    assert missing.status_code == 404 and "No such item" in missing.text


def test_a_viewer_gets_403_on_every_post_route_and_nothing_changes(app, ctx):
    item = _item(ctx)
    client, token = client_of(app, "vic")
    routes = sorted(r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())
                    and r.path not in ("/login", "/logout"))
    assert routes == sorted(f"/items/{{item_id}}/{a}" for a in ACTIONS)  # none forgotten
    for path in routes:
        response = client.post(path.replace("{item_id}", str(item.id)),
                               data={"csrf_token": token, "assignee": "vic", "note": "x",
                                     "reason": "x", "why": "x"})
        assert response.status_code == 403, path
        assert "needs the reviewer role" in response.text
    assert ctx.queue.get(item.id).status == "open"
    assert [e.action for e in ctx.queue.history(item.id)] == ["opened"]


def test_a_form_without_its_csrf_token_is_refused(app, ctx):
    item = _item(ctx)
    client, _ = client_of(app, "alice")
    for action in ACTIONS:
        response = client.post(f"/items/{item.id}/{action}", data={"note": "x", "reason": "x"})
        assert response.status_code == 403 and "did not come from this console" in response.text
    wrong = client.post(f"/items/{item.id}/resolve", data={"csrf_token": "guess", "note": "x"})
    assert wrong.status_code == 403
    assert ctx.queue.get(item.id).status == "open"


def test_the_forms_carry_the_token_and_match_the_item(app, ctx, settings):
    item = _item(ctx, ReviewKind.MISSING_DOCUMENT, key="missing-document:NWHP1:C1:L1")
    client, token = client_of(app, "alice")
    console = app.state.console
    template = console.templates.env.get_template("actions_item.html")

    class User:
        name = "alice"

        @staticmethod
        def allows(role):
            return True

    page = template.render(item=ctx.queue.get(item.id), user=User, csrf_token="T0K")
    forms = re.findall(r"<form .*?</form>", page, re.S)
    assert forms and all('name="csrf_token" value="T0K"' in f for f in forms)
    assert 'action="/items/%d/dismiss"' % item.id in page
    assert "/attach" not in page  # this item misses nothing listed: no upload form
    wanting = ctx.queue.open(ReviewKind.MISSING_DOCUMENT, "incomplete",
                             key="missing-document:NWHP1:C2:L1", payer="northwind",
                             context={"missing": ["authorization"]}).item
    page = template.render(item=wanting, user=User, csrf_token="T0K")
    attach = re.search(r'<form [^>]*action="/items/%d/attach"[^>]*>.*?</form>' % wanting.id,
                       page, re.S).group(0)
    assert 'enctype="multipart/form-data"' in attach and "<option>authorization</option>" in attach
    assert 'name="csrf_token" value="T0K"' in attach and 'type="file" name="document"' in attach


# ---- attach a missing document (northwind demo data, one document left out) -------------------


@pytest.fixture
def northwind(settings, ctx, worked_northwind):
    """The northwind demo data worked once (a copy of the session's run: conftest.py)."""
    ctx.ledger.close()  # its connections reopen on the copied ledger
    worked_northwind(settings)
    return ctx


def a_pdf(text="Progress note") -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return out.getvalue()


def test_attaching_the_missing_document_rebuilds_the_packet_complete_and_resolves_the_item(
        app, northwind, settings):
    ctx = northwind
    item = ctx.queue.items(kind=ReviewKind.MISSING_DOCUMENT)[0]
    kind = item.context["missing"][0]
    appeal_key = item.key.removeprefix("missing-document:")
    appeal = next(a for a in ctx.ledger.appeals(payer="northwind") if a.key == appeal_key)
    assert not appeal.complete
    client, token = client_of(app, "alice")

    def upload(data, name="scan.pdf", kind=kind):
        return client.post(f"/items/{item.id}/attach", data={"csrf_token": token, "kind": kind},
                           files={"document": (name, data, "application/pdf")})

    before = sorted(p for p in settings.documents.rglob("*") if p.is_file())
    not_pdf = upload(b"this is not a pdf at all")
    assert not_pdf.status_code == 400 and "not a readable PDF" in not_pdf.text
    too_big = upload(b"%PDF-1.4\n" + b"0" * (20 * 2**20))
    assert too_big.status_code == 400 and "larger than the 20 MB limit" in too_big.text
    wrong_kind = upload(a_pdf(), kind="fee_schedule" if kind != "fee_schedule" else "x")
    assert wrong_kind.status_code == 400 and "does not miss" in wrong_kind.text
    assert sorted(p for p in settings.documents.rglob("*") if p.is_file()) == before

    message = done(upload(a_pdf(), name="../../etc/passwd.pdf"))  # the client's name: ignored
    assert "rebuilt complete and the item resolved" in message
    resolved = ctx.queue.get(item.id)
    assert resolved.status == "resolved" and resolved.evidence == item.evidence
    assert next(a for a in ctx.ledger.appeals(payer="northwind") if a.key == appeal_key).complete
    new = sorted(set(p for p in settings.documents.rglob("*") if p.is_file()) - set(before))
    assert len(new) == 1 and new[0].name.startswith(f"{kind}-") and new[0].suffix == ".pdf"
    assert "passwd" not in new[0].name and settings.documents in new[0].parents
    assert stat.S_IMODE(os.stat(new[0]).st_mode) == 0o600
    assert not list(new[0].parent.glob(".upload.*"))  # no temp file left
    assert ("document-attached", "alice") in events(ctx, item.id)
    detail = next(e.detail for e in ctx.queue.history(item.id) if e.action == "document-attached")
    assert appeal.patient_account not in detail  # the file's name, not the folder (the account)
    # a second upload for the resolved item is refused, and nothing is overwritten
    assert upload(a_pdf("again")).status_code == 400
    assert len([p for p in new[0].parent.iterdir() if p.name.startswith(kind)]) >= 1


def test_a_progress_note_is_named_by_the_claims_date_of_service_so_the_source_matches_it(
        northwind, settings):
    from claimwright.documents import ClaimRef
    from claimwright.documents.folder import FolderSource, folder_name
    from claimwright.resolutions import _document_date, _store

    item = northwind.queue.items(kind=ReviewKind.MISSING_DOCUMENT)[0]
    appeal_key = item.key.removeprefix("missing-document:")
    appeal = next(a for a in northwind.ledger.appeals(payer="northwind") if a.key == appeal_key)
    day = _document_date(northwind, appeal, "medical_records", SAMPLE_ANCHOR)
    assert day != SAMPLE_ANCHOR
    assert _document_date(northwind, appeal, "authorization", SAMPLE_ANCHOR) == SAMPLE_ANCHOR
    folder = settings.documents / folder_name(appeal.patient_account)
    before = {p: p.read_bytes() for p in folder.glob("*.pdf")}  # the demo's note is there
    stored = _store(folder, f"medical_records-{day.isoformat()}", a_pdf())
    again = _store(folder, f"medical_records-{day.isoformat()}", a_pdf("another"))
    assert stored not in before and again not in before and again != stored  # never replaced
    assert again.name.startswith(f"medical_records-{day.isoformat()}-")
    assert {p: p.read_bytes() for p in before} == before
    found = FolderSource(settings.documents).find(
        ClaimRef(appeal.patient_account, appeal.payer_id, appeal.payer_claim_id, (day,)),
        ["medical_records"])
    assert stored in [d.path for d in found.documents["medical_records"]]


def test_cli_attach_refuses_a_file_that_is_not_a_pdf_with_the_shared_message(
        northwind, tmp_path):
    from claimwright.cli import app as cli

    item = northwind.queue.items(kind=ReviewKind.MISSING_DOCUMENT)[0]
    bad = tmp_path / "note.pdf"
    bad.write_bytes(b"plain text")
    result = CliRunner().invoke(cli, ["review", "attach", str(item.id), str(bad), "--kind",
                                      item.context["missing"][0], "--by", "pat"])
    assert result.exit_code == 2 and "not a readable PDF" in result.output
    good = tmp_path / "good.pdf"
    good.write_bytes(a_pdf())
    result = CliRunner().invoke(cli, ["review", "attach", str(item.id), str(good), "--kind",
                                      item.context["missing"][0], "--by", "pat"])
    assert result.exit_code == 0, result.output
    assert f"#{item.id} resolved: Stored " in result.output
    assert ("document-attached", "pat") in events(northwind, item.id)


# ---- categorize an unknown code --------------------------------------------------------------


def _rows(path) -> dict:
    import openpyxl

    rows = openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)
    header = [str(h).casefold() for h in next(rows)]
    return {r[header.index("key")]: r for r in rows if r[header.index("key")]}


def test_categorizing_the_z98_item_redecides_it_into_the_billing_worklist(app, northwind,
                                                                          settings):
    ctx = northwind
    item = next(i for i in ctx.queue.items(kind=ReviewKind.UNKNOWN_CODE)
                if i.context["adjustment"]["carc"] == "Z98")
    finding_key = item.key.removeprefix("unknown-code:")
    client, token = client_of(app, "alice")
    form = {"category": "billing data error", "owner": "billing", "action": "corrected claim",
            "appealable": "no", "why": "The payer's own code for a missing NPI."}
    wrong = post(client, token, item.id, "categorize", **{**form, "category": "modifer"})
    assert wrong.status_code == 400
    assert "'modifer' is not a known category" in html.unescape(wrong.text)
    assert not settings.local_rules.exists() and ctx.queue.get(item.id).status == "open"

    message = done(post(client, token, item.id, "categorize", **form))
    assert "Rule local-co-z98 added" in message and "1 re-decided" in message
    resolved = ctx.queue.get(item.id)
    assert resolved.status == "resolved" and "local-co-z98" in resolved.resolution
    assert ("categorized", "alice") in events(ctx, item.id)
    after = next(f for f in ctx.ledger.findings() if f.key == finding_key)
    assert (after.rule_id, after.category, after.owner) == (
        "local-co-z98", "billing data error", "billing")
    assert finding_key in _rows(settings.worklist_for("billing"))  # routed right away
    assert "added_by: alice" in settings.local_rules.read_text()
    twice = post(client, token, item.id, "categorize", **form)
    assert twice.status_code == 400  # resolved: reopen first; never a second rule


# ---- retry now --------------------------------------------------------------------------------


def test_retry_now_reruns_a_failed_outputs_unit_and_resolves_its_item(app, ctx, settings,
                                                                       remittance_dataset,
                                                                       monkeypatch):
    import claimwright.pipeline.outputs as outputs

    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    for entry in manifest["remittances"]:
        import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
    process_documents(ctx, "northwind")
    real = outputs._document_outputs

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(outputs, "_document_outputs", broken)
    write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)
    failed = ctx.queue.items(kind=ReviewKind.OUTPUT_FAILED)
    assert failed
    item = failed[0]
    unit = next(u for u in ctx.ledger.units(UnitKind.OUTPUTS) if u.review_key == item.key)
    assert unit.state == UnitState.FAILED_SYSTEM

    client, token = client_of(app, "alice")
    still = done(post(client, token, item.id, "retry"))  # the disk is still full
    assert "failed-system" in still and "stays open" in still
    assert ctx.queue.get(item.id).status == "open"
    monkeypatch.setattr(outputs, "_document_outputs", real)
    message = done(post(client, token, item.id, "retry"))
    assert f"outputs {unit.key} re-run: done" in message
    assert ctx.ledger.unit(UnitKind.OUTPUTS, unit.key).state == UnitState.DONE
    assert ctx.queue.get(item.id).status == "resolved"
    assert [a for a, by in events(ctx, item.id) if by == "alice"] == [
        "retried", "retried", "resolved"]
    assert ctx.queue.items(kind=ReviewKind.OUTPUT_FAILED) == []  # the others cleared too
    nothing = post(client, token, _item(ctx).id, "retry")
    assert nothing.status_code == 400 and "not the failure of a unit" in nothing.text


def test_retry_now_of_a_document_that_failed_to_parse_parses_it_and_makes_its_outputs(
        app, ctx, remittance_dataset, monkeypatch):
    import claimwright.pipeline.parse as parse

    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    entry = manifest["remittances"][0]
    import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
    real = parse.document_parser

    def flaky(path):
        raise OSError("the share went away")

    monkeypatch.setattr(parse, "document_parser", lambda settings: flaky)
    process_documents(ctx, "northwind")
    item = ctx.queue.items(kind=ReviewKind.DOCUMENT_FAILED)[0]
    unit = next(u for u in ctx.ledger.units(UnitKind.PARSE) if u.review_key == item.key)
    assert unit.state == UnitState.FAILED_SYSTEM and ctx.ledger.unit(UnitKind.OUTPUTS,
                                                                     unit.key) is None
    monkeypatch.setattr(parse, "document_parser", real)
    client, token = client_of(app, "alice")
    message = done(post(client, token, item.id, "retry"))
    assert f"parse {unit.key} re-run: done" in message
    assert ctx.ledger.unit(UnitKind.PARSE, unit.key).state == UnitState.DONE
    assert ctx.ledger.unit(UnitKind.OUTPUTS, unit.key).state == UnitState.DONE  # outputs made
    assert ctx.queue.get(item.id).status == "resolved"
    assert ("retried", "alice") in events(ctx, item.id)


# ---- a one-time code a portal sent by SMS: handed to the waiting nightly run -------------------


def test_a_waiting_one_time_code_is_entered_here_and_resumes_its_run(app, ctx, monkeypatch):
    import claimwright.pipeline.one_time_codes as codes

    run = "6f1c2b1e-0000-4000-8000-000000000001"
    handed = []
    monkeypatch.setattr(codes, "resume_with_code", lambda *args: handed.append(args))
    item = ctx.queue.open(
        ReviewKind.MFA_CODE_NEEDED, "summit: the portal sent a one-time code by sms",
        key="pull:summit:code-wanted:1", payer="summit",
        context={"payer": "summit", "channel": "sms", "awaiting_code": True,
                 "flow_run_id": run, "until": "2024-06-28T02:15:00Z"}).item
    client, token = client_of(app, "alice")
    page = client.get(f"/items/{item.id}").text
    assert f'action="/items/{item.id}/code"' in page and 'type="password"' in page
    assert "Retry now" not in page  # the run waits: nothing to retry
    assert done(post(client, token, item.id, "code", code=" 123456 ")).startswith(
        "Code handed to the waiting run")
    assert handed == [(run, "123456")]
    assert ("code-entered", "alice") in events(ctx, item.id)
    assert "123456" not in repr([(e.detail, e.action) for e in ctx.queue.history(item.id)])
    bad = post(client, token, item.id, "code", code="12")
    assert bad.status_code == 400 and "4 to 12 letters or digits" in bad.text

    def gone(*args):
        raise RuntimeError("Cannot resume a run that isn't paused! 654321")

    monkeypatch.setattr(codes, "resume_with_code", gone)
    late = post(client, token, item.id, "code", code="654321")
    assert late.status_code == 400 and "no longer waiting for this code" in late.text
    assert "654321" not in late.text
    other = _item(ctx)
    refused = post(client, token, other.id, "code", code="123456")
    assert refused.status_code == 400 and "not waiting for a one-time code" in refused.text
    assert f'action="/items/{other.id}/code"' not in client.get(f"/items/{other.id}").text
