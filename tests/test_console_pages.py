"""The review console's pages: the queue list with its filters and counts, an item's page with
its evidence (PHI masked or shown and audited by role), the evidence route and the overview.
The same pages in a real Chromium: tests/test_console_browser.py."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from fastapi.testclient import TestClient

from claimwright.console import create_app, set_user
from claimwright.review import SYSTEM_ACTOR, ReviewQueue
from claimwright.storage import utcnow
from claimwright.types import ReviewKind
from test_console_auth import ROLES, hashes, sign_in  # noqa: F401

NOW = utcnow()
# PNG signature + minimal header, enough for a file that is served as it is
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _at(days_ago: float):
    return lambda: NOW - dt.timedelta(days=days_ago)


@pytest.fixture
def settings(workspace, hashes):  # noqa: F811
    for name, h in hashes.items():
        set_user(workspace.console_users, name, ROLES[name], h)
    return workspace


@pytest.fixture
def app(settings):
    app = create_app(settings)
    yield app
    app.state.console.ledger().close()


def _client(app, name=None):
    client = TestClient(app, follow_redirects=False)
    if name:
        assert sign_in(client, name).status_code == 303
    return client


@pytest.fixture
def items(app, settings, tmp_path):
    """Four items: an old unbalanced one with PHI and evidence of every sort, a fresh portal
    failure (keystone), one in review assigned to alice, one resolved."""
    ledger = app.state.console.ledger()
    home, out = settings.home, settings.out
    (home / "evidence").mkdir(parents=True, exist_ok=True)
    (out / "traces").mkdir(parents=True, exist_ok=True)
    shot = home / "evidence" / "shot.png"
    shot.write_bytes(PNG)
    trace = out / "traces" / "trace.zip"
    trace.write_bytes(b"PK\x03\x04 a trace")
    outside = tmp_path / "elsewhere.png"  # a real file, but not under home/out
    outside.write_bytes(PNG)
    context = {"claim": "PA55501234", "patient_name": "DOE, JANE", "member_id": "W987654321",
               "document_id": 999, "problems": [{
                   "code": "line-unbalanced", "claim": "PA55501234", "line": 1,
                   "message": "claim PA55501234 line 1: paid 42.50", "expected": "32.50",
                   "actual": "42.50"}]}
    old = ReviewQueue(ledger, clock=_at(10)).open(
        ReviewKind.UNBALANCED, "R-1 claim PA55501234 (DOE, JANE): billed 120.00, paid 42.50",
        key="u1", payer="northwind", context=context,
        evidence=[str(shot), str(trace), str(outside), str(home / "gone.png"),
                  str(home / ".." / ".." / "elsewhere.png")]).item
    fresh = ReviewQueue(ledger, clock=_at(0.1)).open(
        ReviewKind.PORTAL_FAILURE, "keystone portal is down", key="p1", payer="keystone",
        evidence=[str(shot)]).item
    queue = ReviewQueue(ledger, clock=_at(2.5))
    mine = queue.open(ReviewKind.UNKNOWN_CODE, "unknown code Z98", key="c1",
                      payer="northwind").item
    queue.start(mine.id, by="alice")
    done = queue.open(ReviewKind.UNKNOWN_CODE, "unknown code Z97", key="c2",
                      payer="northwind").item
    queue.resolve(done.id, "categorized", by="alice")
    return {"old": old, "fresh": fresh, "mine": mine, "done": done, "outside": outside}


def _row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/items/(\d+)">#', html)]


def test_the_queue_lists_active_items_oldest_first_with_counts_and_filters(app, items):
    client = _client(app, "vic")
    old, fresh, mine, done = (items[k].id for k in ("old", "fresh", "mine", "done"))
    page = client.get("/")
    assert page.status_code == 200 and "Review queue" in page.text
    assert _row_ids(page.text) == [old, mine, fresh]  # active only, oldest first
    assert "open: <strong>2</strong>" in page.text and "in-review: <strong>1</strong>" in page.text
    assert "resolved: <strong>1</strong>" in page.text
    assert "unknown-code: <strong>1</strong>" in page.text  # kinds counted in the state shown
    assert "BREACHED" in page.text  # the 10-day-old unbalanced item
    assert client.get("/items").text.count("<tr>") == page.text.count("<tr>")

    def ids(**query):
        response = client.get("/items", params=query)
        assert response.status_code == 200, response.text
        return _row_ids(response.text)

    assert ids(kind="portal-failure") == [fresh]
    assert ids(payer="northwind") == [old, mine]
    assert ids(state="resolved") == [done]
    assert ids(state="all") == [old, mine, done, fresh]
    assert ids(assignee="alice") == [mine]
    assert ids(min_age=2) == [old, mine]
    assert ids(min_age="", assignee="", kind="") == [old, mine, fresh]  # the form's empty boxes
    assert client.get("/items", params={"min_age": "-1"}).status_code == 400
    assert ids(breached=1) == [old]
    assert ids(kind="unbalanced", payer="keystone") == []
    assert client.get("/items", params={"kind": "nonsense"}).status_code == 400
    assert client.get("/items", params={"state": "nonsense"}).status_code == 400
    row = re.search(rf'<tr>\s*<td><a href="/items/{old}">.*?</tr>', page.text, re.S).group(0)
    assert "business" in row and "northwind" in row and "claim" in row and ">10<" in row


def test_phi_is_masked_in_the_list_and_for_a_viewer_and_shown_to_a_reviewer_audited(app, items):
    old = items["old"].id
    queue = app.state.console.queue()
    for name in ("vic", "alice"):  # masked in the list, whatever the role
        text = _client(app, name).get("/").text
        assert "PA55501234" not in text and "DOE, JANE" not in text
        assert "******1234" in text and "D**, J***" in text
    viewer = _client(app, "vic").get(f"/items/{old}")
    assert viewer.status_code == 200
    for phi in ("PA55501234", "DOE, JANE", "W987654321"):
        assert phi not in viewer.text
    assert "******1234" in viewer.text and "******4321" in viewer.text
    assert "32.50" in viewer.text and "42.50" in viewer.text  # the amounts are not PHI
    assert f"/items/{old}/evidence/" not in viewer.text  # no evidence content for a viewer
    assert [e.action for e in queue.history(old)] == ["opened"]  # a viewer saw no PHI

    reviewer = _client(app, "alice").get(f"/items/{old}")
    assert "PA55501234" in reviewer.text and "DOE, JANE" in reviewer.text
    assert "W987654321" in reviewer.text
    events = [(e.action, e.actor) for e in queue.history(old)]
    assert events == [("opened", SYSTEM_ACTOR), ("viewed-phi", "alice")]
    assert "viewed-phi" in reviewer.text  # the page shows its own audit trail
    _client(app, "adam").get(f"/items/{old}")
    assert [e.actor for e in queue.history(old) if e.action == "viewed-phi"] == ["alice", "adam"]
    assert _client(app, "alice").get("/items/99999").status_code == 404


def test_evidence_is_served_by_index_only_from_home_or_out(app, items):
    old = items["old"].id
    client = _client(app, "alice")
    page = client.get(f"/items/{old}").text
    assert f'<img class="evidence" src="/items/{old}/evidence/0"' in page  # the screenshot
    assert "playwright show-trace trace.zip" in page and f"/items/{old}/evidence/1" in page
    assert str(items["outside"]) not in page and "/elsewhere" not in page  # never a path

    shot = client.get(f"/items/{old}/evidence/0")
    assert shot.status_code == 200 and shot.content == PNG
    assert shot.headers["content-type"] == "image/png"
    trace = client.get(f"/items/{old}/evidence/1")
    assert trace.status_code == 200 and trace.content.startswith(b"PK")
    assert trace.headers["content-disposition"].startswith("attachment")
    assert 'filename="trace.zip"' in trace.headers["content-disposition"]
    downloads = [e for e in app.state.console.queue().history(old) if e.action == "viewed-phi"]
    assert [e.detail for e in downloads] == ["item page", "downloaded evidence 1"]

    for n in (2, 4):  # a real file outside home/out, directly or through ".."
        assert client.get(f"/items/{old}/evidence/{n}").status_code == 404
    assert client.get(f"/items/{old}/evidence/3").status_code == 404  # missing file
    assert client.get(f"/items/{old}/evidence/5").status_code == 404  # out of range
    assert client.get(f"/items/{old}/evidence/-1").status_code == 404
    assert client.get("/items/99999/evidence/0").status_code == 404
    assert client.get(f"/items/{old}/evidence/%2e%2e%2fetc").status_code in (404, 422)
    assert client.get(f"/items/{old}/evidence/0/marked/0").status_code == 404  # not a PDF

    assert _client(app, "vic").get(f"/items/{old}/evidence/0").status_code == 403
    anonymous = _client(app).get(f"/items/{old}/evidence/0")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    assert PNG not in anonymous.content


def test_every_get_route_without_a_session_goes_to_login(app, items):
    client = _client(app)
    seen = set()
    for route in app.routes:
        if "GET" not in (getattr(route, "methods", None) or set()):
            continue
        path = re.sub(r"\{[^}]+\}", "0", route.path)
        seen.add(route.path)
        response = client.get(path)
        if route.path in ("/login", "/health", "/static/console.css"):
            assert response.status_code == 200, path
            continue
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    assert {"/", "/items", "/items/{item_id}", "/items/{item_id}/evidence/{n}",
            "/items/{item_id}/evidence/{n}/marked/{k}", "/overview"} <= seen


def test_the_overview_counts_active_items_by_kind_and_age_with_breaches(app, items):
    text = _client(app, "vic").get("/overview").text
    assert "3 active items" in text
    row = re.search(r'kind=unbalanced">unbalanced</a></td>(.*?)</tr>', text, re.S).group(1)
    cells = re.findall(r'<td class="num">(?:<span class="breached">)?(\d+)', row)
    assert cells == ["1", "0", "0", "1", "0", "1", "10"]  # 1 active, 8-30 days, 1 breach
    breaches = text.split("SLA breaches</h2>")[1]
    assert f'/items/{items["old"].id}"' in breaches and f'/items/{items["mine"].id}"' not in \
        breaches


# a real unbalanced remittance, through the pipeline ---------------------------------------
@pytest.fixture
def unbalanced(settings, worked_northwind):
    """The northwind demo data worked once (one claim does not balance on purpose), its PDFs
    downloaded under home as the pull puts them."""
    worked_northwind(settings, downloads=True)  # a copy of the session's run: conftest.py
    app = create_app(settings)
    item = next(i for i in app.state.console.queue().items() if i.kind == "unbalanced")
    yield app, item
    app.state.console.ledger().close()


def test_an_unbalanced_item_shows_its_remittance_page_with_the_claim_boxed(unbalanced,
                                                                           tmp_path):
    from PIL import Image
    from rendering import colour_share

    from claimwright.packets.highlight import HIGHLIGHT_ON_WHITE

    app, item = unbalanced
    client = _client(app, "alice")
    page = client.get(f"/items/{item.id}").text
    src = f"/items/{item.id}/evidence/0/marked/0"
    assert f'src="{src}"' in page
    assert item.evidence[0] not in page and item.context["file"] not in page  # no server paths
    problem = item.context["problems"][0]
    assert problem["expected"] in page and problem["actual"] in page  # beside the image
    image = client.get(src)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    png = tmp_path / "marked.png"
    png.write_bytes(image.content)
    assert Image.open(io.BytesIO(image.content)).format == "PNG"
    assert 0.0005 < colour_share(png, HIGHLIGHT_ON_WHITE, 10) < 0.2  # the boxed rows only
    assert client.get(src).content == image.content  # rendered once, from the cache
    assert len(app.state.console.images) >= 1
    assert client.get(f"/items/{item.id}/evidence/0/marked/1").status_code == 404
    viewer = _client(app, "vic")  # the page image prints patients' names: reviewers only
    assert src not in viewer.get(f"/items/{item.id}").text
    assert viewer.get(src).status_code == 403
    assert _client(app).get(src).headers["location"] == "/login"
