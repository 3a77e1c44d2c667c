"""The northwind mock portal, over HTTP (no browser)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import socket
import threading
from pathlib import Path

import contextlib

import httpx
import pyotp
import pytest

from fixtures.portals import (
    PAYERS,
    ManifestError,
    PortalServer,
    create_app,
    demo_account,
    demo_environment,
    ensure_dataset,
    load_documents,
    running_portal,
    running_portal_server,
    running_portals,
    serve,
)

from portal_fixtures import portal_dataset, write_sample_dataset  # noqa: F401  (fixture)

ACCOUNT = demo_account("northwind")
ROW = re.compile(r"<tr><td>([^<]+)</td><td>(\d\d/\d\d/\d{4})</td>")


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nw-sample")
    write_sample_dataset("northwind", out, count=14)
    return out


@pytest.fixture
def client_for():
    """Start a portal (real uvicorn on 127.0.0.1) and return an httpx client for it."""
    with contextlib.ExitStack() as stack:

        def start(data_dir: Path, **kwargs) -> httpx.Client:
            server = stack.enter_context(running_portal_server("northwind", data_dir, **kwargs))
            return stack.enter_context(httpx.Client(base_url=server.url, follow_redirects=False,
                                                    timeout=10))

        yield start


@pytest.fixture
def signed_in(client_for):
    def start(data_dir: Path, **kwargs) -> httpx.Client:
        return login(client_for(data_dir, **kwargs))

    return start


def login(client: httpx.Client) -> httpx.Client:
    response = client.post("/login", data={"username": ACCOUNT.username,
                                           "password": ACCOUNT.password})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login/mfa")
    response = client.post("/login/mfa", data={"code": pyotp.TOTP(ACCOUNT.totp_secret).now()})
    assert response.status_code == 303
    return client


def listed_ids(html: str) -> list[str]:
    return [m.group(1) for m in ROW.finditer(html)]


def test_pages_need_a_session_and_redirect_to_login(sample_dir, client_for):
    client = client_for(sample_dir)
    for path in ("/remittances", "/remittances/search?from=&to=", "/remittances/documents/abc"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    assert client.get("/").headers["location"] == "/login"
    page = client.get("/login").text
    assert 'for="username">Username</label>' in page and 'type="password"' in page
    assert "Northwind Health Plan" in page


def test_login_rejects_wrong_password_and_accepts_demo_login(sample_dir, client_for):
    client = client_for(sample_dir)
    bad = client.post("/login", data={"username": ACCOUNT.username, "password": "wrong"})
    assert bad.status_code == 200
    assert "Invalid username or password" in bad.text
    assert ACCOUNT.username not in bad.text  # the form is not echoed back
    assert "NWSESSION" not in bad.cookies
    good = client.post("/login", data={"username": ACCOUNT.username, "password": ACCOUNT.password,
                                       "next": "/remittances/search?from=&to="})
    assert good.status_code == 303  # password accepted: the TOTP step comes next
    assert good.headers["location"].startswith("/login/mfa?next=")
    assert "NWSESSION" not in client.cookies
    mfa_page = client.get(good.headers["location"]).text
    assert 'for="otp">One-time code</label>' in mfa_page
    wrong = client.post("/login/mfa", data={"code": "000000", "next": "/remittances"})
    assert "Invalid one-time code" in wrong.text and "NWSESSION" not in client.cookies
    code = pyotp.TOTP(ACCOUNT.totp_secret).now()
    done = client.post("/login/mfa", data={"code": code, "next": "/remittances/search?from=&to="})
    assert done.status_code == 303
    assert done.headers["location"] == "/remittances/search?from=&to="
    assert client.get("/remittances").status_code == 200
    # the code step cannot be reached without the password step
    assert client_for(sample_dir).post("/login/mfa", data={"code": code}).headers["location"] == "/login"
    # an open redirect through "next" is refused
    other = client_for(sample_dir)
    other.post("/login", data={"username": ACCOUNT.username, "password": ACCOUNT.password})
    answer = other.post("/login/mfa", data={"code": code, "next": "//evil.example/"})
    assert answer.headers["location"] == "/remittances"
    client.get("/logout")
    assert client.get("/remittances").status_code == 303


def test_results_are_paginated_ten_a_page_newest_first(sample_dir, signed_in):
    client = signed_in(sample_dir)
    first = client.get("/remittances/search", params={"from": "", "to": ""}).text
    ids1 = listed_ids(first)
    assert len(ids1) == 10
    assert "Showing 1–10 of 14 remittances" in first
    assert 'rel="next">Next</a>' in first
    next_href = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(next_href).text
    ids2 = listed_ids(second)
    assert len(ids2) == 4 and "Page 2 of 2" in second
    assert 'rel="next"' not in second
    manifest = json.loads((sample_dir / "manifest.json").read_text())
    newest_first = sorted(manifest["remittances"], key=lambda r: r["payment_date"], reverse=True)
    assert ids1 + ids2 == [r["remittance_id"] for r in newest_first]
    for header in ("Remittance ID", "Payment Date", "Check/EFT Number", "Amount", "Document"):
        assert f'<th scope="col">{header}</th>' in first
    assert first.count(">View documents</a>") == 10  # each row links to its documents page


def test_search_filters_by_payment_date_and_validates_input(sample_dir, signed_in):
    client = signed_in(sample_dir)
    docs = load_documents(sample_dir, "northwind")
    lo, hi = docs[9].payment_date, docs[5].payment_date
    page = client.get("/remittances/search",
                      params={"from": f"{lo:%m/%d/%Y}", "to": hi.isoformat()}).text
    expected = [d.remittance_id for d in docs if lo <= d.payment_date <= hi]
    assert listed_ids(page) == expected and len(expected) == 5
    none = client.get("/remittances/search", params={"from": "01/01/1990", "to": "01/31/1990"})
    assert "No remittances found" in none.text
    bad = client.get("/remittances/search", params={"from": "13/45/2024", "to": ""})
    assert "Enter dates as MM/DD/YYYY" in bad.text and "<table" not in bad.text
    backwards = client.get("/remittances/search", params={"from": "06/30/2024", "to": "06/01/2024"})
    assert "must be on or before" in backwards.text


def test_download_is_the_manifest_pdf_as_an_attachment(sample_dir, signed_in):
    client = signed_in(sample_dir)
    manifest = json.loads((sample_dir / "manifest.json").read_text())
    page = client.get("/remittances/search", params={"from": "", "to": ""}).text
    documents_page = re.search(r'<a href="(/remittances/[0-9a-f]+)"', page).group(1)
    details = client.get(documents_page).text  # its documents page: a payment letter first
    assert details.index("Payment letter") < details.index("Remittance advice")
    href = re.search(r'<a href="(/remittances/documents/[0-9a-f]+)"', details).group(1)
    letter = client.get(re.search(r'<a href="(/remittances/letters/[0-9a-f]+)"', details).group(1))
    assert letter.content.startswith(b"%PDF-")
    assert hashlib.sha256(letter.content).hexdigest() not in {r["sha256"] for r in manifest["remittances"]}
    response = client.get(href)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF-")
    assert hashlib.sha256(response.content).hexdigest() in {r["sha256"] for r in manifest["remittances"]}
    assert client.get("/remittances/documents/ffffffffffffffffffff").status_code == 404


def test_fault_injection(sample_dir, client_for):
    docs = load_documents(sample_dir, "northwind")
    broken = docs[0]
    client = client_for(sample_dir, faults={"fail_first": {"login": 1, "download": 2},
                                            "not_pdf": [broken.remittance_id]})
    creds = {"username": ACCOUNT.username, "password": ACCOUNT.password}
    assert client.post("/login", data=creds).status_code == 503
    assert client.post("/login", data=creds).status_code == 303
    code = pyotp.TOTP(ACCOUNT.totp_secret).now()
    assert client.post("/login/mfa", data={"code": code}).status_code == 303
    url = f"/remittances/documents/{docs[1].token}"
    assert [client.get(url).status_code for _ in range(3)] == [503, 503, 200]
    html = client.get(f"/remittances/documents/{broken.token}")
    assert html.status_code == 200 and html.text.startswith("<!doctype html>")
    captcha = client_for(sample_dir, faults={"captcha": True}).post("/login", data=creds)
    assert captcha.status_code == 200 and 'id="captcha"' in captcha.text
    assert "NWSESSION" not in captcha.cookies
    with pytest.raises(ValueError, match="fail_first"):
        client_for(sample_dir, faults={"fail_first": {"nowhere": 1}})


def test_manifest_problems_are_named(tmp_path, sample_dir):
    with pytest.raises(ManifestError, match="no manifest.json"):
        create_app("northwind", tmp_path)
    manifest = json.loads((sample_dir / "manifest.json").read_text())
    manifest["remittances"][0]["pdf"] = "../../outside.pdf"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"remittances\[0\]: pdf path"):
        load_documents(tmp_path, "northwind")
    manifest["payer"] = "other"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="not 'northwind'"):
        load_documents(tmp_path, "northwind")
    with pytest.raises(ValueError, match="no mock portal for payer 'acme'"):
        create_app("acme", sample_dir)


def test_running_portal_serves_on_a_free_port_and_stops(sample_dir):
    with running_portal("northwind", sample_dir) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        response = httpx.get(url + "/login", timeout=5)
        assert response.status_code == 200 and "Sign in" in response.text
        port = int(url.rsplit(":", 1)[1])
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/login", timeout=2)
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))


def test_running_portal_server_exposes_state_for_mid_run_faults(sample_dir):
    with running_portal_server("northwind", sample_dir) as server:
        state = server.app.state.portal
        assert httpx.get(server.url + "/login", timeout=5).status_code == 200
        state.faults = state.faults.model_copy(update={"fail_first": {"login_page": 5}})
        state.hits.clear()
        assert httpx.get(server.url + "/login", timeout=5).status_code == 503


def test_sessions_expire(sample_dir, client_for):
    client = login(client_for(sample_dir, session_ttl_seconds=0.0))
    response = client.get("/remittances")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_running_portals_gives_each_payer_a_url(sample_dir):
    with running_portals({"northwind": sample_dir}) as urls:
        assert set(urls) == {"northwind"}
        assert httpx.get(urls["northwind"] + "/login", timeout=5).status_code == 200


def test_portals_listen_on_loopback_only(sample_dir):
    with pytest.raises(ValueError, match="loopback"):
        PortalServer(create_app("northwind", sample_dir), host="0.0.0.0")


def test_serve_runs_until_stopped(tmp_path, sample_dir):
    import shutil

    shutil.copytree(sample_dir, tmp_path / "data")  # a hand-made manifest is served as it is
    stop = threading.Event()
    seen: dict[str, str] = {}

    def ready(urls):
        seen.update(urls)
        seen["status"] = str(httpx.get(urls["northwind"] + "/login", timeout=5).status_code)
        stop.set()

    serve(["northwind"], port=0, data_dir=tmp_path / "data", ready=ready, stop_event=stop)
    assert seen["status"] == "200" and seen["northwind"].startswith("http://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):
        httpx.get(seen["northwind"] + "/login", timeout=2)


def test_ensure_dataset_builds_the_synthetic_remittances(tmp_path):
    anchor = dt.date(2024, 6, 28)
    folder = ensure_dataset("northwind", tmp_path, anchor=anchor)
    assert folder == tmp_path / "northwind"
    docs = load_documents(folder, "northwind")
    assert len(docs) >= 14
    assert all(anchor - dt.timedelta(days=60) <= d.payment_date < anchor for d in docs)
    for doc in docs:
        assert hashlib.sha256(doc.pdf_path.read_bytes()).hexdigest() == doc.sha256
    assert ensure_dataset("northwind", tmp_path, anchor=anchor) == folder


def test_demo_environment_names_the_bot_variables():
    assert PAYERS[0] == "northwind" and "keystone" in PAYERS  # every registered mock portal
    env = demo_environment("northwind")
    assert env == {"CLAIMWRIGHT_NORTHWIND_USERNAME": ACCOUNT.username,
                   "CLAIMWRIGHT_NORTHWIND_PASSWORD": ACCOUNT.password,
                   "CLAIMWRIGHT_NORTHWIND_TOTP_SECRET": ACCOUNT.totp_secret}
    assert ACCOUNT.password not in repr(ACCOUNT) and ACCOUNT.totp_secret not in repr(ACCOUNT)


def test_session_dataset_serves_every_remittance(portal_dataset, signed_in):
    data_dir, manifest = portal_dataset
    docs = load_documents(data_dir, "northwind")
    assert len(docs) == len(manifest["remittances"]) >= 14
    client = signed_in(data_dir)
    for doc in docs:
        body = client.get(f"/remittances/documents/{doc.token}").content
        assert hashlib.sha256(body).hexdigest() == doc.sha256
    assert all(isinstance(d.payment_date, dt.date) for d in docs)
