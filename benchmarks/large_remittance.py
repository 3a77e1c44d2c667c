"""Time the bad-input cases of issue 4: a 500-page remittance and a PDF of 10,000 tiny objects.

The tests (tests/test_large_remittance.py) check the results without timing them; this prints
the times. Usage: ``.venv/bin/python benchmarks/large_remittance.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from claimwright.errors import UnknownLayout  # noqa: E402
from claimwright.parsing.pdf import parse_pdf  # noqa: E402
from tests.test_large_remittance import large_remittance, tiny_objects_pdf  # noqa: E402


def main() -> int:
    pdf, truth, pages = large_remittance()
    start = time.perf_counter()
    exact = parse_pdf(pdf).to_json() == truth
    took = time.perf_counter() - start
    print(f"{pages}-page remittance: parsed in {took:.1f} s ({pages / took:.0f} pages/s), "
          f"field-exact: {exact}")
    data = tiny_objects_pdf()
    start = time.perf_counter()
    try:
        parse_pdf(data)
        outcome = "parsed (unexpected)"
    except UnknownLayout:
        outcome = "UnknownLayout"
    forced = parse_pdf(data, layout="keystone")
    took = time.perf_counter() - start
    print(f"10,000 tiny objects: {outcome}, forced layout -> {len(forced.problems)} problem(s), "
          f"{took:.2f} s for both")
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
