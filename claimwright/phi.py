"""The one masking policy for every human-facing text not meant to carry PHI.

Names, member ids, patient accounts and dates of birth are PHI even when synthetic; credentials
never appear at all. Masked forms keep enough to tell rows apart, never enough to identify
anyone: ``"DOE, JANE"`` -> ``"D**, J***"``, ``"W123456789"`` -> ``"******6789"``, a date of birth
all stars.

- By key: :func:`redact` masks the PHI keys of a mapping (:data:`PHI_KEYS`) and drops secrets.
- In free text: :func:`phi_values` finds the PHI values of an item's context (by key, nested),
  :func:`mask_text` replaces them wherever they occur (a reason, a problem message, a path),
  :func:`masked` does both over a whole structure. ``claimwright review list/show`` and the
  console's queue list (and its item page for a viewer) use these.
- Where no context is at hand (logs, Prefect artifacts): the PHI the process has seen is
  remembered (:func:`remember`, bounded: :data:`KNOWN_LIMIT` values, oldest forgotten first) as
  the pipeline parses remittances and opens review items, and :func:`mask_known` masks it in any
  text. The first :func:`remember` installs :func:`install_log_masking`: every log record the
  process makes (its message, arguments and traceback) is masked before any handler sees it.

Outputs that carry PHI by design, for the people who work the claims: appeal packets, the
worklists, the console's item page for reviewers and admins (each view audited). See
docs/operations.md ("PHI: where it is, where it is masked").
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

_SECRET_KEYS = re.compile(r"pass(word)?|secret|token|totp|otp|credential|cookie|auth", re.I)
#: keys whose values are PHI; "claim": the patient account an unbalanced claim is filed under
PHI_KEYS = frozenset({"patient_name", "member_id", "patient_account", "name", "dob",
                      "patient_dob", "claim"})
_BIRTH_DATE_KEYS = {"dob", "patient_dob"}  # no part of a date of birth is shown
_CLAIM_FIELDS = ("patient_account", "patient_name", "member_id", "patient_dob")
KNOWN_LIMIT = 50_000  # PHI values remembered for logs and artifacts at most (oldest go first)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_MIN_WORD = 2  # one-letter words (initials) are not worth masking alone
#: an id shorter than this is not masked in free text: it identifies nobody, and masking every
#: "1" or "22" of later texts (item ids, hosts, counts) would make them unreadable
_MIN_ID = 4


def mask_name(name: str) -> str:
    """"DOE, JANE" -> "D**, J***": enough to tell rows apart, not to identify anyone."""
    return re.sub(r"[A-Za-z]+", lambda m: m.group(0)[0] + "*" * (len(m.group(0)) - 1), name or "")


def mask_id(value: str, keep: int = 4) -> str:
    """"W123456789" -> "******6789"."""
    value = value or ""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def mask_value(key: str, value: str) -> str:
    """The masked form of the PHI ``value`` of ``key`` (one of :data:`PHI_KEYS`)."""
    if key in _BIRTH_DATE_KEYS:
        return "*" * len(value)
    return mask_name(value) if "name" in key else mask_id(value)


def redact(data):
    """A copy of ``data`` (dicts/lists/scalars) with secrets removed and PHI masked by key."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            k = str(key)
            if _SECRET_KEYS.search(k):
                out[key] = "[redacted]"
            elif k in PHI_KEYS and isinstance(value, str):
                out[key] = mask_value(k, value)
            else:
                out[key] = redact(value)
        return out
    if isinstance(data, (list, tuple)):
        return [redact(v) for v in data]
    return data


# free text by an item's context -------------------------------------------------------------
def phi_values(data: Any, key: str = "") -> dict[str, str]:
    """Every PHI value in ``data`` (by key, nested), mapped to its masked form."""
    found: dict[str, str] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            found.update(phi_values(v, str(k)))
    elif isinstance(data, (list, tuple)):
        for v in data:
            found.update(phi_values(v, key))
    elif isinstance(data, str) and key in PHI_KEYS and data.strip():
        found[data] = mask_value(key, data)
    return found


def mask_text(text: str, values: dict[str, str]) -> str:
    """``text`` with every known PHI value replaced by its masked form (longest first)."""
    if not values or not text:
        return text or ""
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    return pattern.sub(lambda m: values[m.group(0)], text)


def masked(data: Any, values: dict[str, str]) -> Any:
    """``data`` redacted by key (:func:`redact`) and its strings masked by ``values``."""
    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, key) for v in value]
        if isinstance(value, str):
            return mask_text(value, values)
        return value
    return walk(redact(data))


def mask_item(reason: str, context: Any) -> str:
    """A review item's ``reason`` (or any text about it) masked by its context's PHI and by
    what the process remembers (:func:`mask_known`)."""
    return mask_known(mask_text(reason, phi_values(context)))


# what the process has seen: logs and artifacts ----------------------------------------------
class KnownPhi:
    """PHI values seen by this process, by word, for masking texts that come without context.

    Names are remembered word by word (``DOE``, ``JANE``: masked alike wherever they stand),
    ids whole; a value that is not one word is replaced as it is. Bounded (LRU)."""

    def __init__(self, limit: int = KNOWN_LIMIT) -> None:
        self.limit = limit
        self._words: OrderedDict[str, str] = OrderedDict()
        self._phrases: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._words) + len(self._phrases)

    def add(self, values: dict[str, str]) -> None:
        with self._lock:
            for value, mask in values.items():
                words = _WORD.findall(value)
                if len(words) == 1 and words[0] == value:
                    if len(value) >= _MIN_ID:
                        self._put(self._words, value, mask)
                elif words and mask == mask_name(value):  # a name: every word alone
                    for word in words:
                        if len(word) >= _MIN_WORD:
                            self._put(self._words, word, mask_name(word))
                else:
                    self._put(self._phrases, value, mask)

    def _put(self, table: OrderedDict, value: str, mask: str) -> None:
        table[value] = mask
        table.move_to_end(value)
        while len(self._words) + len(self._phrases) > self.limit:
            (self._phrases if self._phrases else self._words).popitem(last=False)

    def mask(self, text: str) -> str:
        if not text or not len(self):
            return text
        with self._lock:  # O(len(text)) lookups, plus the few values that are not one word
            text = mask_text(text, {p: m for p, m in self._phrases.items() if p in text})
            words = self._words
            return _WORD.sub(lambda m: words.get(m.group(0), m.group(0)), text)

    def clear(self) -> None:
        with self._lock:
            self._words.clear()
            self._phrases.clear()


KNOWN = KnownPhi()


def remember(values: dict[str, str]) -> None:
    """Remember PHI values (value -> masked form, as :func:`phi_values` gives) for
    :func:`mask_known`; installs the log masking on first use."""
    if values:
        KNOWN.add(values)
        install_log_masking()


def remember_claims(claims: Iterable[Any]) -> None:
    """Remember the PHI of parsed claims (:class:`claimwright.models.Claim` or their JSON)."""
    found: dict[str, str] = {}
    for claim in claims:
        get = claim.get if isinstance(claim, dict) else lambda k, c=claim: getattr(c, k, None)
        for key in _CLAIM_FIELDS:
            value = get(key)
            if value:
                found[str(value)] = mask_value(key, str(value))
    remember(found)


def mask_known(text: str) -> str:
    """``text`` with every PHI value this process has seen masked (logs, artifacts)."""
    return KNOWN.mask(text)


# logs ----------------------------------------------------------------------------------------
_installed = threading.Lock()
_factory_installed = False


def install_log_masking() -> None:
    """Mask every log record of the process at its making (:func:`mask_known` over its message,
    arguments and traceback). A record factory rather than a ``logging.Filter``: a logger's
    filters do not see its children's records, and the handlers (Prefect's, pytest's, a
    console's) are not ours to equip. Idempotent."""
    global _factory_installed
    with _installed:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if len(KNOWN):
                _mask_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format is the logging module's to report
        return
    clean = mask_known(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = mask_known(logging.Formatter().formatException(record.exc_info))
