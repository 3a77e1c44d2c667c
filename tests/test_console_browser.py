"""The review console's morning, in a real Chromium (Playwright) against the real app: sign in,
filter, open the unbalanced item and see its page image with the failing row boxed, correct the
misprinted amount and see the held-back denial reach its worklist row or packet (and stay there
when the pipeline runs again); upload the missing document and see the packet complete;
categorize the unknown code and see its finding decided again and routed."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from portal_fixtures import SAMPLE_ANCHOR
from pypdf import PdfReader
from test_console_actions import PASSWORDS, a_pdf, hashes, settings  # noqa: F401

from claimwright.console import create_app
from claimwright.pipeline import Context, process_documents, write_outputs
from fixtures.remittances.data import UNBALANCED_BY

pytestmark = pytest.mark.browser


@pytest.fixture
def morning(settings, worked_northwind):  # noqa: F811
    """The northwind demo data worked once, its PDFs downloaded under home as the pull puts
    them: one claim does not balance (its denial is held in review), one appeal misses a
    document, one adjustment carries the unknown code Z98. The console serves it on loopback."""
    from fixtures.portals.server import PortalServer

    worked_northwind(settings, downloads=True)  # a copy of the session's run: conftest.py
    ctx = Context.from_settings(settings)
    app = create_app(settings)
    server = PortalServer(app)
    url = server.start()
    yield ctx, url
    server.stop()
    app.state.console.ledger().close()
    ctx.ledger.close()


def run_pipeline(ctx):
    """What the nightly flow does after the pull: parse what is new, make every output."""
    counts = process_documents(ctx, "northwind")
    return write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR, counts=counts)


@pytest.fixture
def page(morning, shared_browser):
    from bots.browser import driving

    with driving(shared_browser):
        context = shared_browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()


def sign_in(page, url: str, name: str = "alice") -> None:
    page.goto(f"{url}/")
    assert page.url.endswith("/login")  # every page needs a session
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    assert page.locator("h1").inner_text() == "Review queue"


def open_item(page, url: str, kind: str, text: str | None = None) -> int:
    """Filter the queue by ``kind`` with the form and open the (first, or the one whose row
    says ``text``) item; its id."""
    page.goto(f"{url}/")
    page.select_option("select[name=kind]", kind)
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(rf".*kind={kind}.*"))
    rows = page.locator("table.queue tbody tr")
    if text:
        rows = rows.filter(has_text=text)
    assert rows.count() >= 1, page.content()
    link = rows.first.locator("a").first
    item_id = int(link.inner_text().lstrip("#"))
    link.click()
    page.wait_for_url(f"{url}/items/{item_id}")
    return item_id


def submit(page, action: str) -> str:
    """Submit the item page's form posting to ``…/action``; the flash message it comes back
    with."""
    page.locator(f"form[action$='/{action}'] button[type=submit]").click()
    page.wait_for_load_state()
    flash = page.locator("p.flash")
    flash.wait_for()
    return flash.inner_text()


def worklist_keys(ctx) -> set[str]:
    keys: set[str] = set()
    for path in (ctx.settings.out / "worklists").glob("*.xlsx"):
        book = openpyxl.load_workbook(path, read_only=True)
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h).casefold() for h in next(rows)]
        keys |= {r[header.index("key")] for r in rows if r[header.index("key")]}
        book.close()
    return keys


def claim_of(ctx, item) -> str:
    """The payer claim # of the claim an ``unbalanced`` item is about."""
    return next(c["payer_claim_id"] for r in ctx.ledger.remittances(item.context["document_id"])
                for c in r.data["claims"] if c["patient_account"] == item.context["claim"])


def where_routed(ctx, claim: str) -> dict[str, str]:
    """Each denial finding of the claim ``claim`` -> "worklist", "packet" or "nowhere"."""
    packets = {a.payer_claim_id for a in ctx.ledger.appeals(payer="northwind")
               if a.packet_path and Path(a.packet_path).is_file()}
    rows = worklist_keys(ctx)
    return {f.key: "worklist" if f.key in rows else "packet" if claim in packets else "nowhere"
            for f in ctx.ledger.findings() if f.payer_claim_id == claim and f.is_denial}


def test_correct_an_unbalanced_claim_in_chromium_and_its_denial_reaches_its_output(morning,
                                                                                   page):
    ctx, url = morning
    sign_in(page, url)
    _doc_image(page, "console-queue.png")
    item_id = open_item(page, url, "unbalanced")
    item = ctx.queue.get(item_id)
    claim = claim_of(ctx, item)
    problem = next(p for p in item.context["problems"] if p.get("line"))
    image = page.locator("img.marked").first
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") > 500  # the page, rendered
    body = page.locator("main").inner_text()
    assert problem["expected"] in body and problem["actual"] in body  # beside the image
    _doc_image(page, "console-item.png")
    held = where_routed(ctx, claim)
    assert held and set(held.values()) == {"nowhere"}  # its numbers cannot be trusted yet

    page.fill("form[action$='/correct'] input[name=line]", str(problem["line"]))
    page.fill("form[action$='/correct'] textarea[name=changes]",
              f"paid={Decimal(problem['actual']) - UNBALANCED_BY}")
    page.fill("form[action$='/correct'] input[name=why]", "the PDF misprints the paid amount")
    message = submit(page, "correct")
    assert "Correction #1 recorded (paid)" in message and "The item is resolved" in message
    assert "resolved" in page.locator("main").inner_text()
    _doc_image(page, "console-corrected.png")
    assert ctx.queue.get(item_id).status == "resolved"
    routed = where_routed(ctx, claim)
    assert routed.keys() == held.keys() and "nowhere" not in routed.values(), routed

    again = run_pipeline(ctx)  # the next night: nothing new, nothing lost, nothing twice
    assert where_routed(ctx, claim) == routed
    assert again.worklist_added == 0 and again.packets_written == 0
    assert ctx.queue.get(item_id).status == "resolved"


def test_upload_the_missing_document_in_chromium_and_the_packet_completes(morning, page,
                                                                          tmp_path):
    ctx, url = morning
    sign_in(page, url)
    item_id = open_item(page, url, "missing-document")
    item = ctx.queue.get(item_id)
    appeal_key = item.key.removeprefix("missing-document:")
    appeal = next(a for a in ctx.ledger.appeals(payer="northwind") if a.key == appeal_key)
    assert not appeal.complete and "INCOMPLETE" in _text(appeal.packet_path)
    pages_before = len(PdfReader(appeal.packet_path).pages)

    scan = tmp_path / "scanned-note.pdf"
    scan.write_bytes(a_pdf("Progress note, signed"))
    page.select_option("form[action$='/attach'] select[name=kind]", item.context["missing"][0])
    page.set_input_files("form[action$='/attach'] input[type=file]", str(scan))
    message = submit(page, "attach")
    assert "rebuilt complete and the item resolved" in message
    after = next(a for a in ctx.ledger.appeals(payer="northwind") if a.key == appeal_key)
    assert after.complete and ctx.queue.get(item_id).status == "resolved"
    assert "INCOMPLETE" not in _text(after.packet_path)
    assert "Progress note, signed" in _text(after.packet_path)  # the upload is enclosed
    assert len(PdfReader(after.packet_path).pages) == pages_before + 1


def test_categorize_the_unknown_code_in_chromium_and_its_finding_is_redecided(morning, page):
    ctx, url = morning
    sign_in(page, url)
    item_id = open_item(page, url, "unknown-code", text="Z98")
    finding_key = ctx.queue.get(item_id).key.removeprefix("unknown-code:")
    before = next(f for f in ctx.ledger.findings() if f.key == finding_key)
    assert before.rule_id != "local-co-z98" and finding_key not in worklist_keys(ctx)

    form = "form[action$='/categorize']"
    page.select_option(f"{form} select[name=category]", "billing data error")
    page.select_option(f"{form} select[name=owner]", "billing")
    page.select_option(f"{form} select[name=action]", "corrected claim")
    page.fill(f"{form} input[name=why]", "The payer's own code for a missing NPI.")
    message = submit(page, "categorize")
    assert "Rule local-co-z98 added" in message and "1 re-decided" in message
    after = next(f for f in ctx.ledger.findings() if f.key == finding_key)
    assert (after.rule_id, after.category, after.owner) == (
        "local-co-z98", "billing data error", "billing")
    assert finding_key in worklist_keys(ctx) and ctx.queue.get(item_id).status == "resolved"
    assert "added_by: alice" in ctx.settings.local_rules.read_text()


def _text(pdf: str) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(pdf).pages)


def _doc_image(page, name: str) -> None:
    """With CLAIMWRIGHT_DOC_IMAGES set (make doc-images), a screenshot for docs/console.md."""
    folder = os.environ.get("CLAIMWRIGHT_DOC_IMAGES")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)
