"""The nightly flow at volume: wall time per remittance, per stage, beside its floor.

For each scale of ``--scales`` (default 1, 4, 10) this serves the mock portals at that volume
(what ``claimwright portals serve --scale N`` runs, in a subprocess: the portal is another
server, as in production) and runs ``flows.nightly.nightly_denials`` on a real local Prefect
server (started once for every scale; ``--api`` uses a running one instead), through real
Chromium, with a fresh CLAIMWRIGHT_HOME and CLAIMWRIGHT_OUT in a temporary directory. The
pipeline's stage timers (``claimwright.timing``) give, per remittance:

* portal      the bot's pull: browser, sign-in, search, pages, downloads;
* parse       the documents parsed and balanced (in the parse worker processes);
* categorize  rules and decisions, routing, packet inputs and worklist rows queued;
* packets     appeal packets and the appeals queue;
* worklists   the owners' workbooks;
* ledger      time in the ledger's database sessions (taken out of the stages above);
* orchestration  Prefect: the flow's wall time in which no thread was in any stage.

Then, in the same run, the FLOOR: the same processing of the already-downloaded files with no
browser and no Prefect (the plain pipeline functions on a fresh ledger), and the same files'
bytes fetched over loopback from a plain HTTP server. Each scale is checked for correctness
first (every listed remittance in the ledger, nothing unbalanced beyond the datasets' deliberate
anomalies, the floor finding the same counts), so a fast wrong run cannot pass. An untimed
warm-up run (one remittance a payer) comes first, so the smallest scale does not carry the cold
starts alone (``--no-warmup`` skips it). Usage::

    .venv/bin/python benchmarks/nightly_volume.py [--scales 1,4,10] [--payers a,b] [--json]
        [--count 14] [--no-warmup] [--api URL]

Goals (the issue's): cost per remittance flat from the smallest to the largest scale (ratio
<= 1.2); end to end <= 1.3 x (portal wall time + processing floor); Prefect's share <= 5 %;
600 remittances in under 10 minutes (measured when a scale has 600, else projected from the
largest). Exit status: 0 every goal met, 1 a goal not met, 2 a run was wrong (times mean
nothing). docs/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import http.server
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from claimwright.timing import STAGES, recording  # noqa: E402

ORCHESTRATION = "orchestration"
LOOKBACK = dt.timedelta(days=60)  # covers the datasets' 45-day window, as the demo does
GOALS = {"flat": 1.2, "floor": 1.3, "prefect": 0.05, "night_s": 600.0, "night_n": 600}
ENV_KEYS = ("CLAIMWRIGHT_HOME", "CLAIMWRIGHT_OUT", "CLAIMWRIGHT_DATABASE_URL",
            "CLAIMWRIGHT_DOCUMENTS", "CLAIMWRIGHT_CLAIM_EXPORT", "CLAIMWRIGHT_SESSION_DIR")


# -- the mock portals, in their own process ---------------------------------------------------
@contextlib.contextmanager
def portals(payers: list[str], scale: int, home: Path, anchor: dt.date, count: int):
    """What ``claimwright portals serve --scale N`` runs (``fixtures.portals.serve``), in its
    own process, for ``payers`` with ``count`` regular remittances each at scale 1; yields
    ``{payer: url}``."""
    from claimwright.services import free_port

    env = dict(os.environ, CLAIMWRIGHT_HOME=str(home))
    for _attempt in range(5):  # a base port whose neighbours are taken: try another
        code = ("import datetime, sys; from fixtures.portals import serve; "
                f"serve({payers!r}, port={free_port()}, data_dir={str(home / 'portal-data')!r}, "
                f"anchor=datetime.date.fromisoformat({anchor.isoformat()!r}), count={count}, "
                f"scale={scale})")
        cmd = [sys.executable, "-c", code]
        log = home / "portals.log"
        home.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as err:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                                    cwd=ROOT)
        urls = {}
        for line in proc.stdout:  # building the datasets comes first (not measured)
            if "mock portal: " in line:
                urls[len(urls)] = line.split(" mock portal: ", 1)[1].split()[0]
            if line.startswith("Press Ctrl-C"):
                break
        if proc.poll() is None and len(urls) == len(payers):
            try:
                yield dict(zip(payers, urls.values()))
            finally:
                proc.terminate()
                proc.wait(10)
            return
        proc.kill()
        error = log.read_text()[-400:]
    raise RuntimeError(f"the mock portals did not start: {error}")


# -- one scale ----------------------------------------------------------------------------------
def use_workspace(folder: Path, sessions: Path) -> None:
    """A fresh CLAIMWRIGHT_HOME / OUT (and saved sign-ins) for this process."""
    for key in ENV_KEYS:
        os.environ.pop(key, None)
    os.environ.update(CLAIMWRIGHT_HOME=str(folder / "home"), CLAIMWRIGHT_OUT=str(folder / "out"),
                      CLAIMWRIGHT_SESSION_DIR=str(sessions))


def prepare(payers: list[str], data_dirs: dict[str, Path]) -> list[dict]:
    """The demo's claim export and supporting documents (packets are built as in real use) and
    the portals' demo logins; returns the datasets' manifests."""
    from claimwright.demo import write_demo_claim_export, write_demo_documents
    from claimwright.settings import Settings
    from fixtures.portals import demo_environment

    settings = Settings.from_env()
    settings.ensure_dirs()
    manifests = [json.loads((data_dirs[p] / "manifest.json").read_text()) for p in payers]
    write_demo_claim_export(settings, manifests)
    write_demo_documents(settings, data_dirs)
    for payer in payers:
        os.environ.update(demo_environment(payer))
    return manifests


def run_flow(payers: list[str], urls: dict[str, str], anchor: dt.date) -> dict:
    from flows.nightly import nightly_denials

    with recording() as times:
        start = time.perf_counter()
        results = nightly_denials(payers=payers, start=anchor - LOOKBACK, end=anchor,
                                  portal_urls=urls)
        end = time.perf_counter()
    stages = {s: times.seconds.get(s, 0.0) for s in STAGES}
    stages[ORCHESTRATION] = times.uncovered(start, end)
    first = min((a for a, _, _ in times.intervals), default=end)
    last = max((b for _, b, _ in times.intervals), default=end)
    return {"wall": end - start, "stages": stages, "results": results,
            "portal_wall": times.covered(start, end, stages=("portal",)),
            # Prefect's time before the first stage began (flow and task runs created) and
            # after the last one ended (artifacts, the flow run finished)
            "orchestration_ends": [max(0.0, first - start), max(0.0, end - last)]}


def run_floor(documents: list, as_of: dt.date) -> dict:
    """The same processing of the downloaded files, no browser, no Prefect, a fresh ledger."""
    from claimwright.pipeline import (Context, Counts, process_documents, write_appeals_queue,
                                      write_outputs)

    ctx = Context.from_settings()
    try:
        for doc in documents:
            ctx.ledger.add_document(payer=doc.payer, remittance_id=doc.remittance_id,
                                    sha256=doc.sha256, path=doc.path, size=doc.size,
                                    listed=doc.listed)
        payers = list(dict.fromkeys(d.payer for d in documents))
        with recording() as times:
            start = time.perf_counter()
            counts = []
            for payer in payers:
                c = process_documents(ctx, payer, Counts(payer))
                counts.append(write_outputs(ctx, payer, as_of=as_of, counts=c))
                write_appeals_queue(ctx, as_of)
            wall = time.perf_counter() - start
    finally:
        ctx.ledger.close()
    return {"wall": wall, "stages": {s: times.seconds.get(s, 0.0) for s in STAGES},
            "counts": [c.as_dict() for c in counts]}


def loopback_bytes(paths: list[Path]) -> tuple[float, int]:
    """Seconds to fetch every file over loopback HTTP (one client, one request each)."""
    import httpx

    root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        total = 0
        with httpx.Client(base_url=url, timeout=30) as client:
            start = time.perf_counter()
            for path in paths:
                answer = client.get(str(path.relative_to(root)))
                answer.raise_for_status()
                total += len(answer.content)
            return time.perf_counter() - start, total
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no access log on the terminal
        pass


def check(manifests: list[dict], documents: list, ledger, flow: dict, floor: dict) -> list[str]:
    """What is wrong with the run (empty: right): every remittance of the portals' listing in
    the ledger, nothing unbalanced but the deliberate anomalies, the floor saying the same."""
    from fixtures.remittances.data import ANOMALY_UNBALANCED

    wrong = []
    expected = {(m["payer"], e["remittance_id"]) for m in manifests for e in m["remittances"]}
    listed = sum(r["listed"] for r in flow["results"])
    have = {(d.payer, d.remittance_id) for d in documents}
    if listed != len(expected) or have != expected:
        wrong.append(f"portals hold {len(expected)} remittances, listed {listed}, ledger has "
                     f"{len(have)} ({len(expected - have)} missing, {len(have - expected)} extra)")
    anomalies = {(m["payer"], e["remittance_id"]) for m in manifests for e in m["remittances"]
                 if e.get("anomaly") == ANOMALY_UNBALANCED}
    unbalanced = {(d.payer, d.remittance_id) for d in documents
                  for rec in ledger.remittances(d.id) if rec.data.get("problems")}
    if unbalanced - anomalies:
        wrong.append(f"{len(unbalanced - anomalies)} remittance(s) unbalanced beyond the "
                     f"{len(anomalies)} deliberate anomalies")
    errors = [e for r in flow["results"] for e in r["errors"] if e.startswith("pull")]
    if errors:
        wrong.append(f"{len(errors)} pull error(s)")
    keys = ("documents_parsed", "remittances", "claims", "denial_findings", "packets_written")
    ours = {k: sum(r[k] for r in flow["results"]) for k in keys}
    theirs = {k: sum(c[k] for c in floor["counts"]) for k in keys}
    if ours != theirs:
        wrong.append(f"the floor's counts differ from the flow's: {theirs} vs {ours}")
    return wrong


def measure_scale(scale: int, payers: list[str], root: Path, anchor: dt.date,
                  count: int) -> dict:
    from claimwright.pipeline import Context
    from fixtures.portals import dataset_dir

    portal_home = root / "portals"
    data_dirs = {p: dataset_dir(portal_home / "portal-data", p, scale=scale) for p in payers}
    with portals(payers, scale, portal_home, anchor, count) as urls:
        use_workspace(root / f"scale{scale}", root / f"sessions{scale}")
        manifests = prepare(payers, data_dirs)
        flow = run_flow(payers, urls, anchor)
    ctx = Context.from_settings()
    try:
        documents = ctx.ledger.documents()
        files = [Path(d.path) for d in documents]
        files += [Path(p) for d in documents
                  for p in ((d.listed or {}).get("renditions") or {}).values()]
        use_workspace(root / f"floor{scale}", root / f"sessions{scale}")
        os.environ.update(CLAIMWRIGHT_DOCUMENTS=str(root / f"scale{scale}" / "home" / "documents"),
                          CLAIMWRIGHT_CLAIM_EXPORT=str(root / f"scale{scale}" / "home"
                                                       / "claim-export.csv"))
        floor = run_floor(documents, anchor)
        wire, size = loopback_bytes(files)
        wrong = check(manifests, documents, ctx.ledger, flow, floor)
    finally:
        ctx.ledger.close()
    n = len(documents)
    return {"scale": scale, "remittances": n,
            "claims": sum(r["claims"] for r in flow["results"]),
            "wall": flow["wall"], "stages": flow["stages"], "portal_wall": flow["portal_wall"],
            "orchestration_ends": flow["orchestration_ends"],
            "floor": {"wall": floor["wall"], "stages": floor["stages"], "loopback": wire,
                      "bytes": size},
            "wrong": wrong}


# -- the report -----------------------------------------------------------------------------------
def goals(runs: list[dict]) -> list[dict]:
    per = {r["scale"]: r["wall"] / max(r["remittances"], 1) for r in runs}
    first, last = runs[0], runs[-1]
    out = []
    if len(runs) > 1:
        ratio = per[last["scale"]] / per[first["scale"]]
        out.append({"goal": f"cost per remittance flat ({last['scale']}x / {first['scale']}x)",
                    "measured": ratio, "limit": GOALS["flat"], "ok": ratio <= GOALS["flat"]})
    for r in runs:
        ratio = r["wall"] / (r["portal_wall"] + r["floor"]["wall"])
        out.append({"goal": f"{r['scale']}x: end to end / (portal + processing floor)",
                    "measured": ratio, "limit": GOALS["floor"], "ok": ratio <= GOALS["floor"]})
    for r in runs:
        share = r["stages"][ORCHESTRATION] / r["wall"]
        out.append({"goal": f"{r['scale']}x: Prefect's share of the wall time",
                    "measured": share, "limit": GOALS["prefect"], "ok": share <= GOALS["prefect"]})
    n = GOALS["night_n"]
    night = next((r for r in runs if r["remittances"] >= n), None)
    seconds = night["wall"] if night else per[last["scale"]] * n
    how = "measured" if night else f"projected from {last['scale']}x"
    out.append({"goal": f"{n} remittances, seconds ({how})", "measured": seconds,
                "limit": GOALS["night_s"], "ok": seconds <= GOALS["night_s"]})
    return out


def print_report(runs: list[dict], met: list[dict]) -> None:
    for r in runs:
        n = max(r["remittances"], 1)
        total = sum(r["stages"].values())
        print(f"\nscale {r['scale']}x: {r['remittances']} remittances, {r['claims']} claims; "
              f"end to end {r['wall']:.1f} s = {r['wall'] / n:.3f} s/remittance")
        print(f"{'stage':<14}{'s/remittance':>13}{'share':>8}{'floor s/rem':>13}")
        for stage, seconds in r["stages"].items():
            floor = (r["floor"]["loopback"] if stage == "portal"
                     else r["floor"]["stages"].get(stage))
            floor_text = f"{floor / n:13.4f}" if floor is not None else f"{'-':>13}"
            print(f"{stage:<14}{seconds / n:13.4f}{seconds / total:8.1%}{floor_text}")
        before, after = r["orchestration_ends"]
        print(f"orchestration: {before:.1f} s before the first stage, {after:.1f} s after the "
              f"last, {r['stages'][ORCHESTRATION] - before - after:.1f} s between stages")
        print(f"portal wall {r['portal_wall']:.1f} s (payers in parallel); processing floor "
              f"{r['floor']['wall']:.1f} s; {r['floor']['bytes'] / 1e6:.1f} MB over loopback in "
              f"{r['floor']['loopback']:.2f} s (the floor column's portal figure)")
        print("correct: " + ("; ".join(r["wrong"]) if r["wrong"] else
                             "every listed remittance in the ledger, nothing unbalanced beyond "
                             "the anomalies, the floor's counts the same"))
    print("\ngoals:")
    for g in met:
        print(f"  {'PASS' if g['ok'] else 'FAIL'}  {g['goal']}: {g['measured']:.3f} "
              f"(limit {g['limit']:g})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,4,10", help="volume scales, comma-separated")
    ap.add_argument("--payers", default=None,
                    help="mock portals, comma-separated (default: all three)")
    ap.add_argument("--count", type=int, default=14,
                    help="regular remittances per payer at scale 1 (the portals' default: 14; "
                         "each dataset adds 2 anomalies)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed warm-up run (one remittance a payer) that first pays "
                         "the cold starts: a new server's first runs, Chromium's first launch")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    ap.add_argument("--api", default=None,
                    help="a running Prefect server's API URL (default: start a private one)")
    args = ap.parse_args(argv)
    from fixtures.portals import PAYERS

    scales = sorted({int(s) for s in args.scales.split(",") if s.strip()})
    payers = [p.strip() for p in (args.payers or ",".join(PAYERS)).split(",") if p.strip()]
    unknown = sorted(set(payers) - set(PAYERS))
    if unknown or not scales or min(scales) < 1 or args.count < 1:
        ap.error(f"unknown payer(s) {unknown}" if unknown
                 else "scales and --count are whole numbers >= 1")
    for module in ("bots", "flows.nightly", "playwright.sync_api"):  # paid once, not timed
        importlib.import_module(module)
    from claimwright.services import prefect_server

    anchor = dt.date.today()
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    with tempfile.TemporaryDirectory(prefix="cw-volume-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        if args.api:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            os.environ["PREFECT_API_URL"] = args.api
            stack.enter_context(temporary_settings(updates={PREFECT_API_URL: args.api}))
        else:
            stack.enter_context(prefect_server(root / "prefect", ui=False))
        try:
            if not args.no_warmup:
                measure_scale(1, payers, root / "warmup", anchor, 1)
            runs = [measure_scale(s, payers, root, anchor, args.count) for s in scales]
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.update({key: value})
    met = goals(runs)
    if args.json:
        print(json.dumps({"runs": runs, "goals": met}, indent=2))
    else:
        print_report(runs, met)
    if any(r["wrong"] for r in runs):
        return 2
    return 0 if all(g["ok"] for g in met) else 1


if __name__ == "__main__":
    raise SystemExit(main())
