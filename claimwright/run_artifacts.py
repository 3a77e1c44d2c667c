"""What a flow run shows operations staff in the Prefect UI: its summary table, links to what it
wrote, and the list of what it could not finish. Plain functions (rows, markdown) the flows
publish as artifacts; no Prefect here.

No PHI in any of them: counts, categories, queue names, folder and workbook paths, review item
ids, kinds, payers and error codes. Never a review item's reason or context values, nor a packet
file's name (it holds the payer's claim number): packets are a count and their payer's folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from .pipeline.context import ROUTES, Counts, RunCounts
from .rules.ruleset import CATEGORIES
from .settings import Settings
from .types import Route

#: the summary table's rows before the categories: (label, Counts field)
_PULLED = [("Listed", "listed"), ("Downloaded", "downloaded"), ("Parsed", "documents_parsed"),
           ("Denials", "denial_findings")]
#: ... and after them (the other counts are in the run's return value and its progress log)
_WORKED = [(f"To {queue}", key) for key, queue in ROUTES] + [
    ("Packets written", "packets_written"), ("Review items opened", "review_opened")]
#: the first column's header (the other columns: one per payer, then "All payers")
WHAT = "What"


def category_label(category: str) -> str:
    return f"Denials: {category}"


def summary_rows(results: Sequence[Counts]) -> list[dict]:
    """The run summary: a row per figure ("Listed", "Downloaded", ..., one "Denials: <category>"
    per category of the rules any payer had, most first, "To coding", ..., "Errors"), a column
    per payer (and "All payers" when there are several). Figures as rows, payers as columns:
    the Prefect UI does not wrap a table, and its page shows about six columns."""
    payers = [c.payer for c in results]
    total: dict[str, int] = {}
    for counts in results:
        for category, n in counts.denials_by_category.items():
            total[category] = total.get(category, 0) + n
    categories = sorted((c for c, n in total.items() if n),
                        key=lambda c: (-total[c], _rank(c)))
    figures = ([(label, lambda c, k=key: getattr(c, k)) for label, key in _PULLED]
               + [(category_label(cat), lambda c, k=cat: c.denials_by_category.get(k, 0))
                  for cat in categories]
               + [(label, lambda c, k=key: getattr(c, k)) for label, key in _WORKED]
               + [("Errors", lambda c: len(c.errors))])
    rows = []
    for label, value in figures:
        row: dict = {WHAT: label} | {p: value(c) for p, c in zip(payers, results)}
        if len(results) > 1:
            row["All payers"] = sum(value(c) for c in results)
        rows.append(row)
    return rows


def _rank(category: str) -> int:
    return CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)


def status_rows(results: Sequence[RunCounts]) -> list[dict]:
    """The status check's table: one row per payer, its counts under readable headers."""
    rows = []
    for counts in results:
        data = counts.as_dict()
        row = {"Payer": data.pop("payer")}
        for key in ("errors", "review_items", "unfiled"):
            data.pop(key, None)
        row |= {key.replace("_", " ").capitalize(): value for key, value in data.items()}
        row["Errors"] = len(counts.errors)
        rows.append(row)
    return rows


def item_url(settings: Settings, item_id: int) -> str:
    return f"{settings.console_url}/items/{item_id}"


def _file_link(path: Path) -> str:
    return f"[`{path}`]({path.resolve().as_uri()})"


def outputs_markdown(settings: Settings, results: Sequence[Counts]) -> str:
    """Where this run's outputs are: each payer's packet folder (a count, no file names), the
    worklist workbooks, the appeals queue and the console's review queue."""
    lines = ["## Outputs of this run", "", "### Appeal packets"]
    for counts in results:
        folder = settings.packets / counts.payer
        written = f"{counts.packets_written} written"
        if counts.packets_incomplete:
            written += f" ({counts.packets_incomplete} incomplete)"
        where = _file_link(folder) if folder.exists() else f"`{folder}` (none yet)"
        lines.append(f"- {counts.payer}: {written}; folder {where}")
    queue = settings.packets / "appeals-queue.csv"
    if queue.exists():
        lines.append(f"- Appeals queue (every packet, most urgent first): {_file_link(queue)}")
    lines += ["", "### Worklists"]
    added = sum(c.worklist_added for c in results)
    books = [(r.value, settings.worklist_for(r.value)) for r in Route if r.worklist]
    present = [(owner, path) for owner, path in books if path.exists()]
    lines += [f"- {owner.capitalize()}: {_file_link(path)}" for owner, path in present] or [
        "- none written yet"]
    lines.append(f"- {added} row(s) added this run")
    opened = sum(c.review_opened for c in results)
    lines += ["", "### Review queue",
              f"- {opened} item(s) opened this run: [{settings.console_url}/items]"
              f"({settings.console_url}/items) (the review console; "
              "`claimwright review list` on the command line)"]
    return "\n".join(lines) + "\n"


def failures_markdown(settings: Settings, results: Iterable[RunCounts]) -> str | None:
    """What the run could not finish, each with its review item (id, kind, payer, what, error
    code, console link), then the problems without an item; the other items the run opened for
    a person. None when there is nothing at all: an empty run publishes no failures artifact."""
    results = list(results)
    failed = [e for r in results for e in r.review_items if e["failed"]]
    other = [e for r in results for e in r.review_items if not e["failed"] and e["new"]]
    unfiled = [text for r in results for text in r.unfiled]
    # errors neither of an item nor listed as such (none expected): counted, never dropped
    more = sum(len(r.errors) for r in results) - len(failed) - len(unfiled)
    if not (failed or other or unfiled or more > 0):
        return None
    lines = [f"## Could not finish ({len(failed) + len(unfiled)})", ""]
    if failed:
        lines += ["| Review item | Kind | Payer | What | Error code | |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| [{e['id']}]({item_url(settings, e['id'])}) | {e['kind']} | "
                  f"{e['payer'] or '-'} | {e['failed']} | {e['code'] or '-'} | "
                  f"{'new' if e['new'] else 'already open'} |" for e in failed]
    if unfiled:
        lines += ["", "Without a review item (see the run's logs):", ""]
        lines += [f"- {text}" for text in unfiled]
    if more > 0:
        lines += ["", f"{more} more error(s): see the run's logs."]
    if not (failed or unfiled or more > 0):
        lines.append("Nothing: every unit of work finished.")
    if other:
        lines += ["", f"## Opened for a person ({len(other)})", "",
                  "| Review item | Kind | Payer |", "| --- | --- | --- |"]
        lines += [f"| [{e['id']}]({item_url(settings, e['id'])}) | {e['kind']} | "
                  f"{e['payer'] or '-'} |" for e in other]
    lines += ["", f"Review queue: {settings.console_url}/items (`claimwright review show ID`)."]
    return "\n".join(lines) + "\n"
