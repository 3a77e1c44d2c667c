"""The output store's contract (atomic, owner-only, one writer at a time across processes, keys
that cannot leave the store) and a proof that a pipeline run writes its outputs through it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claimwright.output_store import (LocalFolderStore, OutputStore, StoreBusy, StoreConfigError,
                                      StoreKeyError, output_store, register_store, store_at)
from claimwright.settings import PROJECT_DIR, Settings

HOSTILE = ["../x", "/etc/passwd", "a/../../x", "", "a//b", "a\\b", "./a", "a/.", "C:/x"]


@pytest.fixture
def store(tmp_path) -> LocalFolderStore:
    return LocalFolderStore(tmp_path / "out")


def _leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.endswith(".part")]


def test_a_writer_that_raises_leaves_the_previous_content_and_no_temp_file(store):
    store.put_bytes("packets/northwind/a.pdf", b"old")
    with pytest.raises(RuntimeError):
        with store.writing("packets/northwind/a.pdf") as tmp:
            tmp.write_bytes(b"half a fi")
            raise RuntimeError("the PDF writer died")
    with pytest.raises(FileNotFoundError):
        store.put_file("packets/northwind/a.pdf", store.root / "no-such-source.pdf")
    assert store.get_bytes("packets/northwind/a.pdf") == b"old"
    assert _leftovers(store.root) == []
    with store.writing("packets/northwind/a.pdf") as tmp:
        tmp.write_bytes(b"new")
        assert store.get_bytes("packets/northwind/a.pdf") == b"old"  # not before it is done
    assert store.get_bytes("packets/northwind/a.pdf") == b"new"
    assert _leftovers(store.root) == []


def test_put_bytes_is_all_or_nothing_when_the_write_fails(store, monkeypatch):
    store.put_bytes("worklists/q.csv", b"before")

    def broken(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        store.put_bytes("worklists/q.csv", b"after")
    monkeypatch.undo()
    assert store.get_bytes("worklists/q.csv") == b"before"
    assert _leftovers(store.root) == []
    assert store.put_bytes("worklists/q.csv", b"before", skip_if_same=True) is False
    assert store.put_bytes("worklists/q.csv", b"after", skip_if_same=True) is True


def test_everything_written_is_owner_only_whatever_the_umask(store, tmp_path):
    old = os.umask(0o022)
    try:
        store.put_bytes("packets/2026-01-05/index.json", b"{}")
        with store.writing("worklists/coding-worklist.xlsx") as tmp:
            tmp.write_bytes(b"xlsx")
        source = tmp_path / "plain.txt"
        source.write_bytes(b"copy me")
        os.chmod(source, 0o644)
        store.put_file("worklists/.versions/plain.txt", source)
        with store.lock("worklists/coding-worklist.xlsx"):
            pass
    finally:
        os.umask(old)
    for path in [store.root, *store.root.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


_HOLDER = """
import sys
from claimwright.output_store import LocalFolderStore
store = LocalFolderStore(sys.argv[1])
with store.lock("worklists/coding-worklist.xlsx"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_the_lock_keeps_out_a_second_process_until_it_is_released(store):
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(store.root)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=PROJECT_DIR)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreBusy, match="coding-worklist.xlsx is being written"):
            with store.lock("worklists/coding-worklist.xlsx", wait=0):
                pass
        with store.lock("worklists/other.xlsx", wait=0):  # another key is not held
            pass
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
    with store.lock("worklists/coding-worklist.xlsx", wait=0):
        pass


def test_list_exists_url_move_and_delete(store):
    for key in ("packets/northwind/b.pdf", "packets/northwind/a.pdf", "packets/appeals-queue.csv",
                "worklists/coding-worklist.xlsx"):
        store.put_bytes(key, key.encode())
    with store.lock("packets/northwind/a.pdf"):
        pass
    (store.root / "packets" / ".stray.123.abc.part").write_bytes(b"")
    assert store.list("packets/northwind/") == ["packets/northwind/a.pdf",
                                                "packets/northwind/b.pdf"]
    assert store.list("packets/app") == ["packets/appeals-queue.csv"]
    assert len(store.list()) == 4 and store.list("nothing/here/") == []
    assert store.exists("packets/northwind/a.pdf") and not store.exists("packets/northwind")
    assert not store.exists("packets/none.pdf")
    url = store.url("packets/northwind/a.pdf")
    assert url.startswith("file:///") and url == (store.root / "packets/northwind/a.pdf").as_uri()
    with store.reading("worklists/coding-worklist.xlsx") as path:
        assert path.read_bytes() == b"worklists/coding-worklist.xlsx"
    store.move("packets/northwind/b.pdf", "packets/.versions/b.pdf")
    assert store.get_bytes("packets/.versions/b.pdf") == b"packets/northwind/b.pdf"
    store.delete("packets/.versions/b.pdf")
    store.delete("packets/.versions/b.pdf")  # gone already: no error
    assert not store.exists("packets/.versions/b.pdf")
    assert store.key_of(store.root / "packets" / "x.pdf") == "packets/x.pdf"
    with pytest.raises(StoreKeyError):
        store.key_of(store.root.parent / "elsewhere.pdf")


@pytest.mark.parametrize("key", HOSTILE)
def test_a_key_that_would_leave_the_store_is_refused(store, key):
    calls = [lambda: store.put_bytes(key, b"x"), lambda: store.get_bytes(key),
             lambda: store.exists(key), lambda: store.url(key), lambda: store.delete(key),
             lambda: store.writing(key).__enter__(), lambda: store.lock(key).__enter__(),
             lambda: store.reading(key).__enter__(), lambda: store.list(key + "/y")]
    for call in calls:
        with pytest.raises(StoreKeyError):
            call()
    assert not store.root.parent.joinpath("x").exists()


def test_the_factory_gives_the_local_folder_by_default_and_names_what_is_supported(tmp_path):
    env = {"CLAIMWRIGHT_HOME": str(tmp_path / "var"), "CLAIMWRIGHT_OUT": str(tmp_path / "o")}
    store = output_store(Settings.from_env(env))
    assert isinstance(store, LocalFolderStore) and store.root == (tmp_path / "o").resolve()
    for value in ("local", "file", "LOCAL"):
        assert isinstance(output_store(Settings.from_env(env | {
            "CLAIMWRIGHT_OUTPUT_STORE": value})), LocalFolderStore)
    with pytest.raises(StoreConfigError, match=r"CLAIMWRIGHT_OUTPUT_STORE='s3://bucket'.*"
                                               r"supported: .*local"):
        output_store(Settings.from_env(env | {"CLAIMWRIGHT_OUTPUT_STORE": "s3://bucket"}))


class RecordingStore(LocalFolderStore):
    """A local folder that remembers every key put, moved or locked through it."""

    keys: set[str] = set()

    def put_bytes(self, key, data, *, skip_if_same=False):
        self.keys.add(self._full(key))
        return super().put_bytes(key, data, skip_if_same=skip_if_same)

    @contextlib.contextmanager
    def writing(self, key):
        with super().writing(key) as tmp:
            yield tmp
        self.keys.add(self._full(key))

    def move(self, key, to):
        super().move(key, to)
        self.keys.add(self._full(to))

    @contextlib.contextmanager
    def lock(self, key, *, wait=300.0):
        path = self.path(key)
        self.keys.add(str(path.with_name(f".{path.name}.lock")))
        with super().lock(key, wait=wait):
            yield

    def _full(self, key):
        return str(self.path(key))


def test_a_pipeline_run_writes_every_output_through_the_configured_store(
        workspace, remittance_dataset, monkeypatch):
    from portal_fixtures import SAMPLE_ANCHOR

    from claimwright.pipeline import Context, import_document, process_documents, write_outputs
    from claimwright.pipeline.appeals_queue import write_appeals_queue

    from claimwright import output_store as module

    monkeypatch.setattr(module, "_KINDS", dict(module._KINDS))  # registered for this test only
    register_store("recording", lambda settings, root: RecordingStore(root))
    monkeypatch.setenv("CLAIMWRIGHT_OUTPUT_STORE", "recording")
    RecordingStore.keys = set()
    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    ctx = Context.from_settings()
    try:
        assert isinstance(output_store(ctx.settings), RecordingStore)
        for entry in manifest["remittances"][:1]:
            import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
        counts = process_documents(ctx, "northwind")
        write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR, counts=counts)
        write_appeals_queue(ctx, SAMPLE_ANCHOR)
        write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR, counts=counts)  # versions kept
    finally:
        ctx.ledger.close()
    files = {str(p) for p in workspace.out.rglob("*") if p.is_file()}
    kinds = {Path(f).suffix for f in files}
    assert {".pdf", ".xlsx", ".csv", ".json"} <= kinds, kinds  # packets, worklists, queue, index
    assert files - RecordingStore.keys == set()


def test_store_at_finds_the_key_under_the_output_or_reports_folder(tmp_path):
    settings = Settings(home=tmp_path / "var", out=tmp_path / "out",
                        database_url="sqlite://", reports=tmp_path / "elsewhere")
    store, key = store_at(tmp_path / "out" / "packets" / "x.pdf", settings)
    assert key == "packets/x.pdf" and store.root == (tmp_path / "out").resolve()
    store, key = store_at(tmp_path / "elsewhere" / "feedback-2026-01.pdf", settings)
    assert key == "feedback-2026-01.pdf" and store.root == (tmp_path / "elsewhere").resolve()
    assert isinstance(store, OutputStore)
