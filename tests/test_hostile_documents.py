"""Hostile documents (claimwright/parsing/isolation.py, claimwright/parsing/pdf_limits.py): every
file here is generated in the test (tmp_path), never committed. Each test asserts the typed
outcome and that the parse stayed within bounded memory (the worker's peak from ``os.wait4``,
and ``RUSAGE_CHILDREN`` not raised past the bound) and wall time (limits generous enough for a
loaded CI machine: the figures measured here are a fraction of them)."""

from __future__ import annotations

import dataclasses
import os
import resource
import signal
import struct
import threading
import time
import zlib

import pytest
from portal_fixtures import SAMPLE_ANCHOR

from claimwright.errors import BusinessError, DocumentError
from claimwright.parsing import parse_file
from claimwright.parsing.isolation import (Limits, ParseFailed, ParseWorkers, _answer, _result,
                                           close_shared_workers)
from claimwright.parsing.pdf_limits import check_page_content
from claimwright.pipeline import Context, import_document, process_documents
from claimwright.types import FaultCode, ReviewKind, UnitKind, UnitState

OP = b"BT /F1 12 Tf 72 720 Td (x) Tj ET\n"
MB = 1 << 20
WALL_S = 60  # one hostile document, worker start included (measured: well under 5 s)
CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


# ---- generated hostile PDFs -------------------------------------------------------------------


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (object 1 the catalog) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def flate_bomb(size: int) -> bytes:
    """A zlib stream inflating to ``size`` bytes of text operators, made without ever holding
    them: one compressed 1 MB block (history reset by a full flush) repeated."""
    chunk = OP * (MB // len(OP))
    blocks, rest = divmod(size, len(chunk))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.compress(chunk[:rest]) + deflate.flush()
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(chunk, adler)
    adler = zlib.adler32(chunk[:rest], adler)
    return b"\x78\xda" + block * blocks + tail + struct.pack(">I", adler)


def one_page(contents: bytes, resources: bytes = b"/Font << /F1 5 0 R >>",
             page_extra: bytes = b"", more: list[bytes] = ()) -> bytes:
    return raw_pdf([CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << %s >> "
                    b"/Contents 4 0 R %s >>" % (resources, page_extra), contents, FONT, *more])


def bomb_pdf(size: int) -> bytes:
    """One page whose FlateDecode content stream inflates to ``size`` bytes."""
    return one_page(stream(flate_bomb(size), b"/Filter /FlateDecode"))


def form_bomb_pdf(size: int) -> bytes:
    """The bomb hidden in a form XObject the page draws (``/X Do``)."""
    form = stream(flate_bomb(size), b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                  b"/Resources << /Font << /F1 5 0 R >> >> /Filter /FlateDecode")
    return one_page(stream(b"/X Do"), b"/Font << /F1 5 0 R >> /XObject << /X 6 0 R >>",
                    more=[form])


TEXT_OPS = b"BT /F1 12 Tf 72 720 Td (Explanation of benefits) Tj ET"
TEXT = stream(TEXT_OPS)


def nested_pdf(kind: str, depth: int) -> bytes:
    if kind == "arrays":
        return one_page(TEXT, page_extra=b"/Nest " + b"[" * depth + b"]" * depth)
    if kind == "dictionaries":
        return one_page(TEXT, page_extra=b"/Nest " + b"<< /A " * depth + b"1" + b" >>" * depth)
    if kind == "graphics-states":
        return one_page(stream(b"q " * depth + TEXT_OPS + b" Q" * depth))
    forms = []  # form XObject i draws form i + 1
    for i in range(depth):
        last = i == depth - 1
        body = b"BT /F1 12 Tf 72 700 Td (end) Tj ET" if last else b"/X Do"
        xobject = b"" if last else b"/XObject << /X %d 0 R >>" % (7 + i)
        forms.append(stream(body, b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                            b"/Resources << /Font << /F1 5 0 R >> %s >>" % xobject))
    return one_page(stream(b"/X Do"), b"/Font << /F1 5 0 R >> /XObject << /X 6 0 R >>",
                    more=forms)


def many_pages_pdf(count: int) -> bytes:
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(count))
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>")
    return raw_pdf([CATALOG, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count), FONT,
                    TEXT, *[page] * count])


# ---- measuring --------------------------------------------------------------------------------


def children_peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024


def own_peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


@pytest.fixture
def workers():
    """Parse workers with the shipped default limits; closed (and measured) after the test."""
    pool = ParseWorkers(Limits())
    yield pool
    pool.close()


@pytest.fixture(autouse=True)
def _no_shared_workers():
    yield
    close_shared_workers()  # the pipeline's workers of this test end with it


def parse_hostile(pool: ParseWorkers, path, *, bound_mb: int, wall_s: float = WALL_S):
    """Parse ``path`` in ``pool``; the typed error it raised. Asserts the bounds, measured on
    the workers once they ended."""
    before = children_peak_mb()
    start = time.perf_counter()
    with pytest.raises(BusinessError) as raised:
        pool.parse_file(path)
    elapsed = time.perf_counter() - start
    pool.close()
    assert elapsed < wall_s, f"{path.name}: {elapsed:.1f} s"
    assert 0 < pool.peak_rss_mb < bound_mb, f"{path.name}: worker peak {pool.peak_rss_mb} MB"
    # a child starts with this process's peak as its own (Linux, at exec): that much is not its
    assert children_peak_mb() <= max(before, bound_mb, own_peak_mb())
    return raised.value


# ---- decompression bombs ----------------------------------------------------------------------


@pytest.mark.parametrize("inflated_mb", [20, 200, 1024])
def test_a_decompression_bomb_is_refused_before_pdfium_parses_the_page(tmp_path, workers,
                                                                       inflated_mb):
    path = tmp_path / f"bomb-{inflated_mb}.pdf"
    path.write_bytes(bomb_pdf(inflated_mb * MB))
    assert path.stat().st_size < inflated_mb * MB / 200  # small on disk: ~3 MB for 1 GB
    error = parse_hostile(workers, path, bound_mb=400)
    assert isinstance(error, DocumentError) and error.code == FaultCode.PARSE_LIMIT_EXCEEDED
    assert error.code.review_kind == ReviewKind.UNREADABLE_DOCUMENT
    assert f"{path.name}: page 1 holds more than 16 MB of decompressed content" in str(error)
    assert error.context == {"file": str(path), "page": 1, "limit_mb": 16}


def test_a_bomb_inside_a_form_xobject_is_counted_too(tmp_path):
    data = form_bomb_pdf(64 * MB)
    start = time.perf_counter()
    with pytest.raises(DocumentError) as raised:
        check_page_content(data, source="form.pdf", limit=16 * MB)
    assert raised.value.code == FaultCode.PARSE_LIMIT_EXCEEDED
    assert time.perf_counter() - start < 10  # counted in steps, never inflated whole
    check_page_content(data, source="form.pdf", limit=128 * MB)  # under the limit: no error


def test_without_the_content_check_the_memory_limit_stops_the_bomb(tmp_path):
    """The issue's own failure: PDFium needs ~12x the inflated size and aborts without a word
    when memory runs out. In the worker that is one typed error and the next document parses."""
    path = tmp_path / "bomb-300.pdf"
    path.write_bytes(bomb_pdf(300 * MB))
    pool = ParseWorkers(Limits(memory_mb=1024, timeout_s=WALL_S, page_content_mb=0))
    error = parse_hostile(pool, path, bound_mb=1024 + 64)  # the address space caps the RSS
    assert error.code in (FaultCode.PARSE_CRASHED, FaultCode.PARSE_LIMIT_EXCEEDED)
    assert error.code.review_kind == ReviewKind.UNREADABLE_DOCUMENT
    assert "memory limit 1024 MB" in str(error) or "(1024 MB)" in str(error)
    fine = tmp_path / "small.pdf"
    fine.write_bytes(bomb_pdf(1 * MB))  # a new worker takes the next document
    with pytest.raises(BusinessError) as next_one:
        pool.parse_file(fine)
    assert next_one.value.code == FaultCode.UNKNOWN_LAYOUT  # read to the end: no layout
    assert pool.started == 2
    pool.close()


# ---- deep nesting, huge page counts -----------------------------------------------------------


@pytest.mark.parametrize("kind,depth,code", [
    # PDFium caps the nesting and reads the page's text: no payer layout knows it
    ("arrays", 100_000, FaultCode.UNKNOWN_LAYOUT),
    ("dictionaries", 20_000, FaultCode.UNKNOWN_LAYOUT),
    ("graphics-states", 100_000, FaultCode.UNKNOWN_LAYOUT),
    # forms drawing forms 2,000 deep: PDFium stops following them long before the only text
    ("forms", 2_000, FaultCode.NO_TEXT)])
def test_deep_nesting_ends_in_a_typed_error_within_bounds(tmp_path, workers, kind, depth,
                                                          code):
    path = tmp_path / f"nested-{kind}.pdf"
    path.write_bytes(nested_pdf(kind, depth))
    error = parse_hostile(workers, path, bound_mb=600)
    assert error.code == code


@pytest.mark.parametrize("pages", [2_001, 100_000])
def test_a_huge_page_count_is_refused_before_any_page_is_read(tmp_path, workers, pages):
    path = tmp_path / f"pages-{pages}.pdf"
    path.write_bytes(many_pages_pdf(pages))
    error = parse_hostile(workers, path, bound_mb=600)
    assert error.code == FaultCode.TOO_MANY_PAGES
    assert f"has {pages} pages (expected 1..2000)" in str(error)
    assert error.code.review_kind == ReviewKind.UNREADABLE_DOCUMENT


# ---- a parse that hangs or dies ---------------------------------------------------------------


def test_a_parse_that_never_ends_is_stopped_at_the_time_limit(tmp_path):
    fifo = tmp_path / "never.pdf"
    os.mkfifo(fifo)  # opening it blocks for ever: no writer will come
    pool = ParseWorkers(Limits(timeout_s=1))
    error = parse_hostile(pool, fifo, bound_mb=400, wall_s=30)
    assert error.code == FaultCode.PARSE_TIMEOUT
    assert "longer than 1 s" in str(error) and error.context["limit_s"] == 1


def test_a_worker_killed_mid_parse_is_a_typed_crash_and_the_next_document_gets_a_new_one(
        tmp_path, workers):
    fifo = tmp_path / "stuck.pdf"
    os.mkfifo(fifo)
    outcome: dict = {}

    def parse():
        try:
            workers.parse_file(fifo)
        except DocumentError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=parse)
    thread.start()
    deadline = time.monotonic() + WALL_S
    while not workers.pids() and time.monotonic() < deadline:
        thread.join(0.01)
    os.kill(workers.pids()[0], signal.SIGKILL)  # what the kernel's OOM killer does
    thread.join(WALL_S)
    error = outcome["error"]
    assert error.code == FaultCode.PARSE_CRASHED and "signal SIGKILL" in str(error)
    assert error.code.review_kind == ReviewKind.UNREADABLE_DOCUMENT
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(b"%PDF-1.7\n1 0 obj\n")
    with pytest.raises(DocumentError) as raised:  # the typed error of the worker, as it was
        workers.parse_file(cut)
    assert raised.value.code == FaultCode.TRUNCATED_PDF and workers.started == 2
    assert raised.value.context == {"file": str(cut), "size": 17}


def test_an_unexpected_exception_in_the_worker_is_a_system_failure(tmp_path):
    """What the worker answers for a bug (not a Claimwright error) is raised here as a system
    failure the next runs retry, as in-process; a typed error keeps its class and context."""
    def buggy(path, layout=None):
        raise KeyError("a bug")

    def unknown(path, layout=None):
        raise BusinessError("no layout", code=FaultCode.UNKNOWN_LAYOUT, file=path)

    with pytest.raises(ParseFailed) as raised:
        _result(_answer(buggy, "odd.pdf", None), tmp_path / "odd.pdf", Limits())
    assert raised.value.failure == "system" and "KeyError" in str(raised.value)
    with pytest.raises(BusinessError) as typed:
        _result(_answer(unknown, "odd.pdf", None), tmp_path / "odd.pdf", Limits())
    assert typed.value.code == FaultCode.UNKNOWN_LAYOUT and typed.value.context == {
        "file": "odd.pdf"}


def test_a_good_document_parses_the_same_in_the_worker(remittance_dataset, workers):
    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    entries = manifest["remittances"][:3]
    for entry in entries:
        isolated = workers.parse_file(folder / entry["pdf"])
        assert [r.to_json() for r in isolated] == [
            r.to_json() for r in parse_file(folder / entry["pdf"])]
    assert workers.started == 1  # one worker for every document


# ---- a poison document in the middle of a batch -----------------------------------------------


@pytest.fixture
def batch(workspace, remittance_dataset):
    """The northwind remittances imported with a 1 GB bomb in the middle."""
    workspace.ensure_dirs()
    ctx = Context.from_settings(workspace)
    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    entries = manifest["remittances"]
    bomb = workspace.downloads / "NW-POISON.pdf"
    bomb.write_bytes(bomb_pdf(1024 * MB))
    half = len(entries) // 2
    for entry in entries[:half]:
        import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
    import_document(ctx, "northwind", bomb, "NW-POISON")
    for entry in entries[half:]:
        import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
    yield ctx, len(entries), bomb, folder / entries[0]["pdf"]
    ctx.ledger.close()


def poison_unit(ctx):
    return next(u for u in ctx.ledger.units(UnitKind.PARSE) if "NW-POISON" in u.key)


@pytest.mark.parametrize("limits", ["content", "memory"])
def test_a_poison_document_in_a_batch_is_one_review_item_and_the_rest_is_parsed(
        batch, limits, monkeypatch):
    import claimwright.retries as retries

    ctx, good, bomb, a_good_pdf = batch
    if limits == "memory":  # no content check: the worker's memory limit has to stop it
        ctx = Context(dataclasses.replace(ctx.settings, parse_page_content_mb=0,
                                          parse_memory_mb=1024), ctx.ledger, ctx.queue)
    before = children_peak_mb()
    start = time.perf_counter()
    counts = process_documents(ctx, "northwind")
    elapsed = time.perf_counter() - start
    assert counts.documents_parsed == good  # every document after the poison too
    items = ctx.queue.items(kind=ReviewKind.UNREADABLE_DOCUMENT)
    assert len(items) == 1 and ctx.queue.items(kind=ReviewKind.DOCUMENT_FAILED) == []
    unit = poison_unit(ctx)
    assert unit.state == UnitState.FAILED_BUSINESS and unit.review_key == items[0].key
    expected = (FaultCode.PARSE_LIMIT_EXCEEDED if limits == "content"
                else FaultCode.PARSE_CRASHED)
    assert unit.error_code in (expected, FaultCode.PARSE_LIMIT_EXCEEDED)
    assert "NW-POISON.pdf" in items[0].reason and (
        "decompressed content" in items[0].reason or "memory limit" in items[0].reason)

    again = process_documents(ctx, "northwind")  # the next run: quarantined, not touched
    assert again.documents_parsed == 0
    assert poison_unit(ctx).attempts == unit.attempts
    assert ctx.queue.get(items[0].id).occurrences == items[0].occurrences
    close_shared_workers()
    assert elapsed < WALL_S * 3
    assert children_peak_mb() <= max(before, 1024 + 64)

    # a person's "retry now": run again at once (still a bomb: the item stays open) ...
    monkeypatch.setattr(retries, "_api_url", lambda: None)
    still = retries.retry_item(ctx, items[0].id, by="alice", prefect=False)
    assert "failed-business" in still.message and "stays open" in still.message
    assert poison_unit(ctx).state == UnitState.FAILED_BUSINESS
    # ... and once the payer sent the real document, it parses and the item is resolved
    bomb.write_bytes(a_good_pdf.read_bytes())
    fixed = retries.retry_item(ctx, items[0].id, by="alice", prefect=False)
    assert "re-run: done" in fixed.message
    assert poison_unit(ctx).state == UnitState.DONE
    assert ctx.queue.get(items[0].id).status == "resolved"


def test_the_console_offers_retry_now_for_an_unreadable_document():
    from claimwright.console.actions import RETRYABLE

    assert "unreadable-document" in RETRYABLE and "portal-failure" in RETRYABLE
    assert "unbalanced" not in RETRYABLE  # a person corrects those; no retry fixes them


def test_the_limits_are_settings_with_defaults_for_the_two_core_machine():
    from claimwright.settings import Settings

    shipped = Settings.from_env({})
    assert (shipped.parse_isolation, shipped.parse_memory_mb, shipped.parse_timeout_s,
            shipped.parse_page_content_mb) == (True, 3072, 180, 16)
    assert Limits.from_settings(shipped) == Limits()
    mine = Settings.from_env({"CLAIMWRIGHT_PARSE_ISOLATION": "0", "CLAIMWRIGHT_PARSE_MEMORY_MB":
                              "2048", "CLAIMWRIGHT_PARSE_TIMEOUT_S": "60",
                              "CLAIMWRIGHT_PARSE_PAGE_CONTENT_MB": "8"})
    assert not mine.parse_isolation and Limits.from_settings(mine) == Limits(2048, 60, 8)


def test_with_isolation_off_the_batch_parses_here_and_the_content_limit_still_holds(
        batch, monkeypatch):
    import claimwright.parsing.isolation as isolation
    import claimwright.parsing.pdf_limits as pdf_limits

    monkeypatch.setattr(pdf_limits, "MAX_PAGE_CONTENT", pdf_limits.MAX_PAGE_CONTENT)
    ctx, good, _, _ = batch
    here = Context(dataclasses.replace(ctx.settings, parse_isolation=False,
                                       parse_page_content_mb=8), ctx.ledger, ctx.queue)
    counts = process_documents(here, "northwind")
    assert counts.documents_parsed == good and isolation._shared == {}  # no worker
    [item] = ctx.queue.items(kind=ReviewKind.UNREADABLE_DOCUMENT)
    assert "more than 8 MB of decompressed content" in item.reason
    assert poison_unit(ctx).state == UnitState.FAILED_BUSINESS
