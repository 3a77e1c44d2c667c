"""835s at hospital size: files without their envelope, the streaming reader, the memory bound.

- A file that starts at ``ST`` (or ``GS``) -- some clearinghouse exports drop the ISA/GS
  envelope -- is read with its delimiters inferred, with an ``x12-missing-envelope`` problem.
- The reader streams: chunk boundaries anywhere (inside a segment, a multi-byte character, a
  CR/LF pair) give the same result as one whole text; a path is read from the disk in chunks;
  ``on_claim`` hands claims on one at a time and gives the same problems and totals.
- Peak memory with ``on_claim`` does not grow with the file (measured with tracemalloc on
  generated files of 1,500 and 6,000 claims), and the whole-model parse stays within a small
  multiple of the file size.
"""

from __future__ import annotations

import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest

from bots.documents import x12_problem
from claimwright.models import Remittance
from claimwright.parsing import parse_bytes, parse_file, sniff
from claimwright.parsing import x12_stream
from claimwright.parsing.x12 import iter_835, parse_835
from claimwright.parsing.x12_segments import read_separators
from fixtures.remittances.x12_big import big_835

DATA = Path(__file__).parent / "data" / "x12-835"
SAMPLES = sorted(p.name for p in DATA.glob("*.835"))
LIMITS = {"min_bytes": 200, "max_bytes": 10**7}


def sample(name: str) -> str:
    return (DATA / name).read_text()


def bare(text: str, *, element: str = "*", component: str = ":", terminator: str = "~",
         end: str = "\n", start: str = "ST") -> str:
    """The sample's segments from ``start`` (ST or GS) through its SE (GE for GS), written with
    other delimiters: a clearinghouse export without the envelope."""
    segments = [s.strip() for s in text.split("~") if s.strip()]
    first = next(i for i, s in enumerate(segments) if s.startswith(start + "*"))
    last = max(i for i, s in enumerate(segments) if s.startswith("SE*" if start == "ST"
                                                                    else "GE*"))
    out = [element.join(e.replace(":", component) for e in s.split("*"))
           for s in segments[first:last + 1]]
    return "".join(s + terminator + end for s in out)


def without_problems(remit: Remittance) -> dict:
    out = remit.to_json()
    del out["problems"], out["balanced"]
    return out


def shifted(problems, by: int) -> list[tuple]:
    return [(p.code, p.segment + by if p.segment else None, p.claim) for p in problems]


# -- no envelope ----------------------------------------------------------------------------------
DELIMITERS = {
    "as in the ISA": {},
    "pipes, carets, tilde": {"element": "|", "component": "^"},
    "one segment a line, no terminator": {"terminator": "", "end": "\n"},
    "CR LF after each": {"end": "\r\n"},
    "single line, greater-than components": {"component": ">", "end": ""},
}


@pytest.mark.parametrize("variant", DELIMITERS)
@pytest.mark.parametrize("name", SAMPLES)
def test_an_835_starting_at_st_is_read_with_the_delimiters_inferred(name, variant):
    text = sample(name)
    (whole,) = parse_835(text)
    data = bare(text, **DELIMITERS[variant])
    assert sniff(data.encode()) == "x12-835"
    (remit,) = parse_bytes(data.encode())
    assert without_problems(remit) == without_problems(whole)
    envelope, *others = remit.problems
    assert envelope.code == "x12-missing-envelope" and envelope.segment == 1
    assert "no ISA/GS envelope" in envelope.message and "inferred" in envelope.message
    assert shifted(others, 2) == shifted(whole.problems, 0)  # ISA and GS are not there
    seps = read_separators(data)
    options = DELIMITERS[variant]
    assert seps.element == options.get("element", "*")
    assert seps.segment == (options.get("terminator", "~") or "\n")
    if "SVC" in text:  # inferred from SVC01 (two samples use ">" though their ISA16 is ":")
        at = data.index(f"SVC{seps.element}") + 6  # after "SVC*HC"
        assert seps.component == (data[at] if data[at] != seps.element else ":")
    else:
        assert seps.component == ":"
    assert seps.bare == "ST"


def test_every_transaction_set_of_a_bare_file_says_its_envelope_is_missing():
    one = bare(sample("demo.835"))
    remits = parse_835(one + one.replace("ST*835*1234", "ST*835*1235")
                       .replace("SE*28*1234", "SE*28*1235"))
    assert len(remits) == 2
    for remit in remits:
        assert [p.code for p in remit.problems] == ["x12-missing-envelope"]


def test_an_835_starting_at_gs_is_read_with_one_problem():
    text = sample("secondary-payment.835")
    (whole,) = parse_835(text)
    (remit,) = parse_835(bare(text, start="GS", element="|"))
    assert without_problems(remit) == without_problems(whole)
    assert [(p.code, p.segment) for p in remit.problems] == [("x12-missing-envelope", 1)]
    assert "without the ISA interchange header" in remit.problems[0].message


def test_the_download_check_accepts_a_bare_835_and_refuses_one_cut_short():
    data = bare(sample("demo.835")).encode()
    assert x12_problem(data, **LIMITS) is None
    cut = data[:data.rindex(b"SE*")]
    assert "no SE trailer" in x12_problem(cut, **LIMITS)
    grouped = bare(sample("demo.835"), start="GS").encode()
    assert x12_problem(grouped, **LIMITS) is None
    assert "no GE trailer" in x12_problem(grouped[:grouped.rindex(b"GE*")], **LIMITS)


# -- streaming -----------------------------------------------------------------------------------
def _json(remits) -> list[dict]:
    return [r.to_json() for r in remits]


@pytest.mark.parametrize("chunk", [1, 7, 106, 4096])
def test_chunk_boundaries_anywhere_give_the_same_result(chunk, monkeypatch):
    texts = [sample(n) for n in SAMPLES]
    files = [t.encode() for t in texts] + [
        texts[0].replace("\n", "\r\n").encode(),
        bare(texts[1], terminator="", end="\r\n").encode(),
        texts[2].replace("~\n", "~").encode(),
        texts[3].replace("BORDER", "BØRDÉR").encode(),  # multi-byte characters cut anywhere
        texts[4].encode().replace(b"N1*PR*", b"N1*PR*\xe9", 1),  # a byte that is not UTF-8
    ]
    expected = [_json(parse_835(data)) for data in files]
    assert any(p["code"] == "x12-encoding" for p in expected[-1][0]["problems"])
    monkeypatch.setattr(x12_stream, "CHUNK", chunk)
    for data, want in zip(files, expected):
        assert _json(parse_835(data)) == want


def test_a_path_is_read_in_chunks_from_the_disk(tmp_path, monkeypatch):
    import claimwright.parsing as parsing

    data, _ = big_835(300)
    path = tmp_path / "big.835"
    path.write_bytes(data)
    want = _json(parse_835(data))
    monkeypatch.setattr(parsing, "SNIFF_BYTES", 4096)
    monkeypatch.setattr(x12_stream, "CHUNK", 5000)
    reads = []

    class Recorded:
        def __init__(self, stream):
            self.stream = stream

        def read(self, size=-1):
            reads.append(size)
            return self.stream.read(size)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(x12_stream, "open", lambda p, mode: Recorded(open(p, mode)),
                        raising=False)
    monkeypatch.setattr(parsing, "parse_bytes", None)  # never the whole file as bytes
    assert _json(parse_file(path)) == want
    assert reads and set(reads) == {5000} and len(reads) > len(data) / 5000
    assert _json(parse_835(path)) == want
    with path.open("rb") as stream:
        assert _json(parse_835(stream)) == want


def test_on_claim_hands_each_claim_on_with_the_same_problems_and_totals():
    text = (sample("tertiary-payment.835")  # an unbalanced line and claim
            .replace("SE*", "CAS*PR*1*1.00~SE*"))  # and one more line adjustment
    (whole,) = parse_835(text)
    claims = []
    (streamed,) = iter_835(text, on_claim=claims.append)
    assert streamed.claims == [] and claims == whole.claims
    assert streamed.to_json()["problems"] == whole.to_json()["problems"]
    assert streamed.payment == whole.payment


def test_the_missing_se_problem_names_the_last_claim_in_both_modes():
    text = sample("demo.835")
    cut = text[:text.index("PLB*")]
    (whole,) = parse_835(cut)
    (streamed,) = iter_835(cut, on_claim=lambda claim: None)
    missing = [p for p in whole.problems if p.code == "x12-missing-se"]
    assert [p.claim for p in missing] == ["777777"]
    assert streamed.to_json()["problems"] == whole.to_json()["problems"]


def test_remittances_are_given_one_at_a_time():
    one = sample("demo.835")
    head, body = one[:one.index("ST*")], one[one.index("ST*"):one.index("GE*")]
    many = head + "".join(body.replace("1234", f"{n:04d}") for n in range(5)) \
        + "GE*5*1~\nIEA*1*000000907~\n"
    remits = iter_835(many)
    first = next(remits)
    assert first.payment.amount == Decimal("150000.00")
    assert len(list(remits)) == 4
    assert _json(parse_835(many))[0] == first.to_json()


# -- memory --------------------------------------------------------------------------------------
def _peak(function) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_bounded_by_a_claim_not_the_file(tmp_path):
    sizes, peaks = {}, {}
    for claims in (1500, 6000):
        data, truth = big_835(claims)
        path = tmp_path / f"{claims}.835"
        path.write_bytes(data)
        sizes[claims] = len(data)
        del data
        seen = []

        def stream():
            count = 0

            def on_claim(claim):
                nonlocal count
                count += 1

            for remit in iter_835(path, on_claim=on_claim):
                seen.append((count, remit.payment.amount, remit.problems))

        peaks[claims] = _peak(stream)
        assert seen == [(truth.claims, truth.payment, [])]
    assert sizes[6000] > 4 * sizes[1500] * 0.9
    # four times the claims, about the same peak: one chunk and one claim at a time
    # 4x the claims adds far less memory than a quarter of the bytes added (a whole-model
    # parse adds ~8x them); a ratio of the peaks alone flaked on the interpreter's own noise
    assert peaks[6000] - peaks[1500] < (sizes[6000] - sizes[1500]) / 4, (peaks, sizes)
    assert peaks[6000] < sizes[6000] / 2, (peaks, sizes)


def test_the_whole_model_stays_within_a_small_multiple_of_the_file(tmp_path):
    data, truth = big_835(1500)
    path = tmp_path / "big.835"
    path.write_bytes(data)
    remits: list = []
    peak = _peak(lambda: remits.extend(parse_835(path)))
    (remit,) = remits
    assert len(remit.claims) == truth.claims and remit.problems == []
    assert sum((c.paid for c in remit.claims), Decimal("0.00")) == truth.paid
    assert peak < 12 * len(data), (peak, len(data))  # measured: 8.4x
