import pytest

from claimwright.errors import BusinessError, SystemFault
from claimwright.phi import mask_id, mask_name, redact
from claimwright.review import ReviewQueue
from claimwright.storage import Ledger


@pytest.fixture
def queue(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ReviewQueue(ledger)
    ledger.close()


def test_open_is_deduplicated_by_key(queue):
    first = queue.open("unbalanced", "claim 1 off by 1.00", key="k1", payer="nw",
                       context={"claim": "1"}, evidence=["a.pdf"])
    again = queue.open("unbalanced", "claim 1 off by 1.00", key="k1", payer="nw",
                       evidence=["b.png"])
    assert first.created and not again.created
    items = queue.items()
    assert len(items) == 1
    assert items[0].occurrences == 2
    assert items[0].evidence == ["a.pdf", "b.png"]


def test_items_survive_a_new_ledger_connection(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ReviewQueue(Ledger(url)).open("unknown-code", "CO-Z98", key="z")
    assert [i.reason for i in ReviewQueue(Ledger(url)).items()] == ["CO-Z98"]


def test_capture_files_business_and_system_errors_and_the_batch_goes_on(queue):
    done = []
    for n in range(3):
        with queue.capture(key=f"doc:{n}", payer="nw", context={"file": f"{n}.pdf"}) as cap:
            if n == 0:
                raise BusinessError("amounts do not balance", code="unbalanced", page=2)
            if n == 1:
                raise SystemFault("portal down", retryable=False, url="http://127.0.0.1/x",
                                  screenshot="/tmp/s.png")
            done.append(n)
    assert done == [2]
    assert cap.error is None
    items = {i.kind: i for i in queue.items()}
    assert set(items) == {"unbalanced", "portal-failure"}  # FaultCode.review_kind
    assert items["unbalanced"].context == {"file": "0.pdf", "page": 2, "error": "unbalanced"}
    assert items["portal-failure"].evidence == ["/tmp/s.png"]


def test_capture_turns_an_unexpected_exception_into_a_review_item(queue):
    with queue.capture(key="doc:x", kind="document-failed") as cap:
        raise ZeroDivisionError("boom")
    assert isinstance(cap.error, ZeroDivisionError) and cap.created
    assert queue.items()[0].reason == "boom"


def test_resolve(queue):
    item = queue.open("unknown-code", "x", key="k").item
    queue.resolve(item.id, "added to table")
    assert queue.items() == []
    assert queue.items(status="resolved")[0].resolution == "added to table"
    with pytest.raises(KeyError):
        queue.resolve(9999, "nothing")


def test_masking():
    assert mask_name("DOE, JANE") == "D**, J***"
    assert mask_id("W123456789") == "******6789"
    assert mask_id("12") == "**"
    red = redact({"patient_name": "DOE, JANE", "member_id": "W123456789",
                  "password": "hunter2-secret", "nested": [{"totp_secret": "ABC"}], "amount": "1"})
    assert red == {"patient_name": "D**, J***", "member_id": "******6789",
                   "password": "[redacted]", "nested": [{"totp_secret": "[redacted]"}],
                   "amount": "1"}


def test_masking_hides_every_part_of_a_date_of_birth():
    red = redact({"claims": [{"patient_dob": "1956-03-14", "diagnoses": ["E119"]}],
                  "dob": "1956-03-14"})
    assert red == {"claims": [{"patient_dob": "**********", "diagnoses": ["E119"]}],
                   "dob": "**********"}
