"""Parse untrusted documents in a worker process under memory and time limits.

A hostile or broken file (a content stream that inflates to a GB of text operators, a PDF that
makes PDFium abort) must cost one review item, never the run. :class:`ParseWorkers` keeps
long-lived worker processes (each its own interpreter: no copy of the run's threads, locks
or database connections), **reused across documents** so the start-up (about a second of imports)
is paid once per run, not per document:

- in the worker, ``RLIMIT_AS`` caps the address space (``CLAIMWRIGHT_PARSE_MEMORY_MB``) and
  :data:`claimwright.parsing.pdf_limits.MAX_PAGE_CONTENT` the decompressed content per page
  (``CLAIMWRIGHT_PARSE_PAGE_CONTENT_MB``); the worker parses with :func:`parse_file` and sends
  back the remittances as JSON (``Remittance.to_json``), or the typed error as (class, code,
  message, context), raised again here as the same class;
- here, the parent waits at most ``CLAIMWRIGHT_PARSE_TIMEOUT_S`` for the answer, then kills the
  worker (the next document gets a new one): ``parse-timeout``;
- a worker that dies (PDFium's abort when memory runs out, a segfault, the OOM killer) is
  ``parse-crashed``, with the signal; a ``MemoryError`` in Python is ``parse-limit-exceeded``.

All three are :class:`~claimwright.errors.DocumentError` codes whose review kind is
``unreadable-document``: the parse unit fails for a business reason, so no run takes the
document again until a person's "retry now". Any other exception in the worker (a bug, a file
that went away) comes back as :class:`ParseFailed`, a system failure the next run retries, as
in-process. Messages name the file and the limit, never the document's content.
"""

from __future__ import annotations

import atexit
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .. import errors
from ..errors import DocumentError, SystemFault
from ..models import Remittance
from ..types import FaultCode

log = logging.getLogger(__name__)

#: a worker is replaced after this many documents (PDFium and Python keep some memory)
RECYCLE_AFTER = 500


class ParseFailed(SystemFault):
    """The worker's parse raised something other than a Claimwright error (retried later)."""


@dataclass(frozen=True)
class Limits:
    """A worker's limits: ``memory_mb`` (address space), ``timeout_s`` (one document's wall
    time), ``page_content_mb`` (decompressed content per PDF page); 0 means none."""

    memory_mb: int = 3072
    timeout_s: float = 180
    page_content_mb: int = 16

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(settings.parse_memory_mb, settings.parse_timeout_s,
                   settings.parse_page_content_mb)


# ---- in the worker process: python -m claimwright.parsing.isolation READ_FD WRITE_FD ... ------


def _serve(conn_in: Connection, conn_out: Connection, limits: Limits,
           parent: int) -> None:  # pragma: no cover - runs in the child
    """The worker's loop: one (path, layout) request at a time, one answer each."""
    import resource

    _end_with_parent(parent)
    if limits.memory_mb:
        cap = limits.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which ends us
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a hostile file: thousands of warnings
    from . import parse_file, pdf_limits

    pdf_limits.MAX_PAGE_CONTENT = limits.page_content_mb << 20
    while True:
        try:
            request = conn_in.recv()
        except EOFError:
            return
        if request is None:
            return
        conn_out.send(_answer(parse_file, *request))


def _end_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child
    """Linux: the kernel kills this worker when the run's process dies (even by SIGKILL), so
    no worker stuck on a document outlives its run."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before that
        os._exit(1)


def _answer(parse_file, path: str, layout: str | None) -> tuple:
    try:
        return ("ok", [r.to_json() for r in parse_file(path, layout=layout)])
    except errors.ClaimwrightError as exc:
        return ("error", type(exc).__name__, str(exc.code), exc.message, _plain(exc.context))
    except MemoryError:
        return ("memory",)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        log.exception("parse of %s failed", Path(path).name)  # the traceback, on stderr
        return ("failed", type(exc).__name__, str(exc)[:300])


def _plain(context: dict[str, Any]) -> dict[str, Any]:
    """The context with values that always travel through a pipe (no exotic objects)."""
    return {k: v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
            for k, v in context.items()}


# ---- in the run's process ---------------------------------------------------------------------


class _Worker:
    """One worker process (its own interpreter: ``python -m``, so nothing of the run's
    process, its threads or its ``__main__`` is copied) and the two pipes to it."""

    def __init__(self, limits: Limits) -> None:
        from_parent, to_child = os.pipe()  # (read end, write end)
        from_child, to_parent = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(from_parent), str(to_parent),
             str(limits.memory_mb), str(limits.page_content_mb), str(os.getpid())],
            pass_fds=(from_parent, to_parent), stdin=subprocess.DEVNULL, env=_child_env())
        os.close(from_parent)
        os.close(to_parent)
        self.requests = Connection(to_child, readable=False)
        self.answers = Connection(from_child, writable=False)
        self.used = 0
        self.peak_rss_mb = 0
        # Linux hands a child the parent's peak RSS at exec (ru_maxrss of wait4 is at least
        # the parent's then): a wait4 figure only counts when it is above that
        self.inherited_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    def sample(self) -> None:
        """Keep the worker's own peak memory so far (``VmHWM``, reset at exec: not inherited)."""
        try:
            with open(f"/proc/{self.process.pid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmHWM:"):
                        self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) // 1024)
                        return
        except (OSError, ValueError, IndexError):
            return

    def alive(self) -> bool:
        if self.process.returncode is not None:
            return False
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return True
        self._ended(status, usage)
        return False

    def ask(self, request: tuple, timeout: float | None) -> tuple | None:
        """The answer, or None when none came within ``timeout`` (the worker is then killed).
        EOFError / OSError: the worker died."""
        self.used += 1
        self.requests.send(request)
        if not self.answers.poll(timeout):
            self.sample()
            self.kill()
            return None
        answer = self.answers.recv()
        self.sample()
        return answer

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.reap()

    def stop(self) -> None:
        """Ask the worker to end (it answers with end of file), killing it after 5 s."""
        self.sample()
        try:
            self.requests.send(None)
            ended = self.answers.poll(5)
        except OSError:
            ended = True
        if not ended and self.alive():
            self.process.kill()
        self.reap()

    def reap(self) -> None:
        """Wait for the ended process and keep its peak memory (sampled while it lived, and
        ``os.wait4``'s when that is its own, see ``inherited_mb``), then close the pipes."""
        if self.process.returncode is None:
            _, status, usage = os.wait4(self.process.pid, 0)
            self._ended(status, usage)
        self.requests.close()
        self.answers.close()

    def _ended(self, status: int, usage) -> None:
        self.process.returncode = os.waitstatus_to_exitcode(status)
        ended_mb = usage.ru_maxrss // 1024  # KiB on Linux
        if ended_mb > self.inherited_mb:  # e.g. a worker that died of memory mid-parse
            self.peak_rss_mb = max(self.peak_rss_mb, ended_mb)


class ParseWorkers:
    """Worker processes that parse documents under :class:`Limits`, reused across documents.

    Thread-safe: a thread takes an idle worker (or starts one) for each document, so as many
    documents are parsed at once as threads ask; :meth:`close` ends them all."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self.started = 0  # worker processes started (tests, the benchmark)
        self.peak_rss_mb = 0  # the largest peak memory of the workers that ended, MB

    def parse_file(self, path: str | Path, *, layout: str | None = None) -> list[Remittance]:
        """Like :func:`claimwright.parsing.parse_file`, in a worker under the limits."""
        path = Path(path)
        worker = self._take()
        try:
            answer = worker.ask((str(path), layout), self.limits.timeout_s or None)
        except (EOFError, OSError):
            answer = ("died",)
        if answer is None:
            self._forget(worker)
            raise DocumentError(
                f"{path.name}: the parse took longer than {self.limits.timeout_s} s and was "
                f"stopped", code=FaultCode.PARSE_TIMEOUT, file=str(path),
                limit_s=self.limits.timeout_s)
        if answer[0] == "died":
            raise self._crashed(worker, path)
        self._give_back(worker)
        return _result(answer, path, self.limits)

    def close(self) -> None:
        """Stop every idle worker (and wait for it)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()
            self._forget(worker)

    def pids(self) -> list[int]:
        """The process ids of the live workers, busy or idle."""
        with self._lock:
            return [w.process.pid for w in (*self._busy, *self._idle)]

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    self._busy.add(worker)
                    return worker
                worker.reap()
                self.peak_rss_mb = max(self.peak_rss_mb, worker.peak_rss_mb)
            self.started += 1
            worker = _Worker(self.limits)
            self._busy.add(worker)
            return worker

    def _give_back(self, worker: _Worker) -> None:
        if worker.used >= RECYCLE_AFTER or not worker.alive():
            worker.stop()
            self._forget(worker)
            return
        with self._lock:
            self._busy.discard(worker)
            self._idle.append(worker)

    def _forget(self, worker: _Worker) -> None:
        """An ended (reaped) worker: off the books, its peak memory kept."""
        with self._lock:
            self._busy.discard(worker)
            self.peak_rss_mb = max(self.peak_rss_mb, worker.peak_rss_mb)

    def _crashed(self, worker: _Worker, path: Path) -> DocumentError:
        worker.reap()  # its pipe closed as it died
        self._forget(worker)
        code = worker.process.returncode or 0
        how = (f"signal {signal.Signals(-code).name}" if code < 0 and -code in _SIGNALS
               else f"exit status {code}")
        limit = (f" (memory limit {self.limits.memory_mb} MB: a document whose content "
                 f"inflates past it ends so)" if self.limits.memory_mb else "")
        log.warning("parse worker died on %s: %s", path.name, how)
        return DocumentError(f"{path.name}: the parse process died with {how}{limit}",
                             code=FaultCode.PARSE_CRASHED, file=str(path), ended_by=how,
                             memory_limit_mb=self.limits.memory_mb)


_SIGNALS = {int(s) for s in signal.Signals}


def _child_env() -> dict[str, str]:
    """The run's environment, with this copy of claimwright first on the path (a script that
    put the source tree on ``sys.path`` itself, e.g. the benchmark, gets the same code)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, path) if p)}


def _result(answer: tuple, path: Path, limits: Limits) -> list[Remittance]:
    kind = answer[0]
    if kind == "ok":
        return [Remittance.from_json(r) for r in answer[1]]
    if kind == "error":
        _, cls_name, code, message, context = answer
        cls = getattr(errors, cls_name, None)
        if not (isinstance(cls, type) and issubclass(cls, errors.ClaimwrightError)):
            cls = errors.BusinessError if FaultCode(code).failure == "business" \
                else errors.SystemFault
        raise cls(message, code=code, **context)
    if kind == "memory":
        raise DocumentError(f"{path.name}: the parse ran out of its memory limit "
                            f"({limits.memory_mb} MB)", code=FaultCode.PARSE_LIMIT_EXCEEDED,
                            file=str(path), memory_limit_mb=limits.memory_mb)
    _, type_name, text = answer
    raise ParseFailed(f"{path.name}: the parse failed: {type_name}: {text}", file=str(path),
                      error=type_name)


_shared: dict[Limits, ParseWorkers] = {}
_shared_lock = threading.Lock()


def shared_workers(limits: Limits) -> ParseWorkers:
    """The process's :class:`ParseWorkers` for ``limits`` (kept between runs and batches, so a
    worker is reused; stopped at exit)."""
    with _shared_lock:
        workers = _shared.get(limits)
        if workers is None:
            workers = _shared[limits] = ParseWorkers(limits)
        return workers


def close_shared_workers() -> None:
    """Stop the shared workers (at exit; tests)."""
    with _shared_lock:
        shared = list(_shared.values())
        _shared.clear()
    for workers in shared:
        workers.close()


atexit.register(close_shared_workers)


def main(argv: list[str]) -> None:  # pragma: no cover - the worker process
    read_fd, write_fd, memory_mb, page_content_mb, parent = (int(a) for a in argv)
    _serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False),
           Limits(memory_mb, 0, page_content_mb), parent)


if __name__ == "__main__":
    main(sys.argv[1:])
