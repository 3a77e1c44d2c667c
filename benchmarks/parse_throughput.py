"""Remittance PDF parse throughput: raw pdfplumber words, raw pypdfium2 text, Claimwright.

Generates its corpus (synthetic remittances of every fixture layout: the Northwind and ClearPath
portal PDFs in Helvetica, and Keystone's Medicare SPR-like monospace notice) into a temporary
directory, then times, over the same files:

* raw pdfplumber ``extract_words`` on every page (no interpretation at all),
* raw pypdfium2 ``get_textpage().get_text_range()`` on every page,
* Claimwright's full parse (``parse_pdf``: words, rows, layout, model, balancing), one process,
* the same full parse over a ``ProcessPoolExecutor`` (PDFium is not thread-safe: processes),
* the pipeline's isolated parse (``claimwright.parsing.isolation``: one reused worker process
  under the default memory, time and content limits; the result comes back as JSON) over the
  same files, one at a time as ``process_documents`` does, against the in-process figure
  (``parse_file`` and the remittance's JSON, what the pipeline stores) measured in the same run,

and checks every Claimwright result against the ground truth field by field. Prints pages/s and
the ratios. Usage::

    .venv/bin/python benchmarks/parse_throughput.py [--files N | --per-layout N] [--workers W]

``--files N`` spreads N remittances over the layouts (``--files 20`` is a quick smoke run);
the default, 150 per layout, is 450 remittances and more than 1,000 pages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from claimwright.parsing import parse_file  # noqa: E402
from claimwright.parsing.isolation import Limits, ParseWorkers  # noqa: E402
from claimwright.parsing.pdf import parse_pdf  # noqa: E402
from fixtures.remittances import build_dataset  # noqa: E402

LAYOUTS = ("northwind", "keystone", "clearpath")  # keystone: the SPR-like design


def corpus(root: Path, counts: dict[str, int]) -> list[tuple[Path, Path, int]]:
    files = []
    for payer, count in counts.items():
        if count <= 0:
            continue
        out = root / payer
        manifest = build_dataset(payer, out, count=count, anchor=dt.date(2026, 3, 2),
                                 anomalies=False)
        files += [(out / e["pdf"], out / e["truth"], e["page_count"])
                  for e in manifest["remittances"]]
    return files


def raw_pdfplumber(paths: list[Path]) -> int:
    import pdfplumber

    n = 0
    for p in paths:
        with pdfplumber.open(p) as pdf:
            for page in pdf.pages:
                n += len(page.extract_words())
    return n


def raw_pdfium(paths: list[Path]) -> int:
    import pypdfium2 as pdfium

    n = 0
    for p in paths:
        doc = pdfium.PdfDocument(p)
        try:
            for i in range(len(doc)):
                page = doc[i]
                tp = page.get_textpage()
                n += len(tp.get_text_range())
                tp.close()
                page.close()
        finally:
            doc.close()
    return n


def _parse_one(path: str) -> dict:
    return parse_pdf(Path(path)).to_json()


def _parse_chunk(paths: list[str]) -> list[dict]:
    return [_parse_one(p) for p in paths]


def in_process(paths: list[Path]) -> list[dict]:
    return [r.to_json() for p in paths for r in parse_file(p)]


def isolated(paths: list[Path]) -> tuple[list[dict], int]:
    """The pipeline's parse: one worker reused for every file (its start counted)."""
    workers = ParseWorkers(Limits())
    try:
        return [r.to_json() for p in paths for r in workers.parse_file(p)], workers.started
    finally:
        workers.close()


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-layout", type=int, default=150, help="remittances per layout")
    ap.add_argument("--files", type=int, default=None,
                    help="total remittances, spread over the layouts (overrides --per-layout)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        t0 = time.perf_counter()
        if args.files is not None:
            counts = {p: args.files // len(LAYOUTS) + (i < args.files % len(LAYOUTS))
                      for i, p in enumerate(LAYOUTS)}
        else:
            counts = dict.fromkeys(LAYOUTS, args.per_layout)
        files = corpus(Path(tmp), counts)
        pages = sum(f[2] for f in files)
        paths = [f[0] for f in files]
        mix = ", ".join(f"{p} {sum(f[2] for f in files if f[0].parent.name == p)} pages"
                        for p in counts)
        print(f"corpus: {len(files)} remittances, {pages} pages ({mix}) "
              f"(generated in {time.perf_counter() - t0:.1f} s)")
        t_plumber, _ = timed(raw_pdfplumber, paths)
        t_pdfium, _ = timed(raw_pdfium, paths)
        t_single, results = timed(lambda: [_parse_one(str(p)) for p in paths])
        chunks = [[str(p) for p in paths[i::args.workers * 4]]
                  for i in range(args.workers * 4)]
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            parallel = [r for chunk in pool.map(_parse_chunk, chunks) for r in chunk]
        t_parallel = time.perf_counter() - start
        t_in_process, plain = timed(in_process, paths)
        t_isolated, (walled, started) = timed(isolated, paths)
        order = [p for i in range(args.workers * 4) for p in paths[i::args.workers * 4]]
        truths = {p: json.loads(t.read_text()) for p, t, _ in files}
        exact = sum(r == truths[p] for p, r in zip(paths, results))
        exact_par = sum(r == truths[p] for p, r in zip(order, parallel))
        rate = {name: pages / t for name, t in (
            ("raw pdfplumber extract_words", t_plumber), ("raw pypdfium2 text", t_pdfium),
            ("claimwright single process", t_single),
            (f"claimwright parallel ({args.workers} processes)", t_parallel))}
        for name, r in rate.items():
            print(f"{name:<40} {r:9.1f} pages/s")
        base = rate["raw pdfplumber extract_words"]
        single = rate["claimwright single process"]
        print(f"claimwright single / raw pdfplumber:   {single / base:6.2f}x")
        print(f"claimwright single / raw pypdfium2:    {single / rate['raw pypdfium2 text']:6.2f}x")
        par = [v for k, v in rate.items() if "parallel" in k][0]
        print(f"claimwright parallel / single:         {par / single:6.2f}x")
        print(f"{'in-process parse_file (pipeline, before)':<40} {pages / t_in_process:9.1f} "
              f"pages/s  {1000 * t_in_process / len(files):7.1f} ms/document")
        print(f"{'isolated worker (pipeline, after)':<40} {pages / t_isolated:9.1f} "
              f"pages/s  {1000 * t_isolated / len(files):7.1f} ms/document "
              f"({started} worker started)")
        print(f"isolated / in-process:                 {t_in_process / t_isolated:6.2f}x "
              f"(+{1000 * (t_isolated - t_in_process) / len(files):.1f} ms/document)")
        same = walled == plain
        print(f"field-exact: single {exact}/{len(files)}, parallel {exact_par}/{len(files)}, "
              f"isolated {'same as in-process' if same else 'DIFFERS from in-process'}")
        ok = exact == exact_par == len(files) and same
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
