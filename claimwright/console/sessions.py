"""Server-side console sessions and failed-sign-in throttling, in memory (one process).

A :class:`SessionStore` keeps sessions by a random token (``secrets.token_urlsafe(32)``, the
only thing the cookie holds). A session without a user is the *sign-in session* the login form
gets: it carries the form's CSRF token, and signing in replaces it with a new session (new token,
new CSRF token). Sessions end after ``idle`` seconds without a request or ``lifetime`` seconds
after they began, whichever comes first; :meth:`SessionStore.delete` ends one at once (sign out).
Memory is bounded: expired sessions are dropped as new ones are made, and past ``max_sessions``
the least recently used go first. Restarting the process signs everyone out.

:class:`Throttle` counts failed sign-ins per key (the user name, the client address) within a
window; at ``limit`` failures the key is locked until ``lockout`` seconds after the last one.
It remembers at most ``max_keys`` keys (oldest forgotten first).

Times are seconds from an injected ``clock`` (``time.monotonic`` by default), so tests never sleep.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable

Clock = Callable[[], float]


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Session:
    token: str
    user: str | None  # None: a sign-in session (the login form's)
    csrf: str = field(default_factory=new_token)
    created: float = 0.0
    seen: float = 0.0


class SessionStore:
    def __init__(self, *, idle: float, lifetime: float, clock: Clock = time.monotonic,
                 max_sessions: int = 10_000) -> None:
        self.idle, self.lifetime, self.clock = idle, lifetime, clock
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, s: Session, now: float) -> bool:
        return now - s.seen >= self.idle or now - s.created >= self.lifetime

    def create(self, user: str | None) -> Session:
        now = self.clock()
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]
        while len(self._sessions) >= self.max_sessions:
            self._sessions.popitem(last=False)
        session = Session(new_token(), user, created=now, seen=now)
        self._sessions[session.token] = session
        return session

    def get(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session of ``token`` (its idle time restarts when ``touch``), else None."""
        session = self._sessions.get(token) if token else None
        if session is None:
            return None
        now = self.clock()
        if self._expired(session, now):
            del self._sessions[session.token]
            return None
        if touch:
            session.seen = now
            self._sessions.move_to_end(session.token)
        return session

    def rotate(self, old: Session | None, user: str) -> Session:
        """A signed-in session for ``user``; ``old`` (the sign-in session) no longer works."""
        if old is not None:
            self.delete(old.token)
        return self.create(user)

    def delete(self, token: str | None) -> None:
        if token:
            self._sessions.pop(token, None)


class Throttle:
    def __init__(self, *, limit: int, window: float, lockout: float,
                 clock: Clock = time.monotonic, max_keys: int = 10_000) -> None:
        self.limit, self.window, self.lockout, self.clock = limit, window, lockout, clock
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        keep = max(self.window, self.lockout)
        while times and now - times[0] >= keep:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def locked(self, key: str) -> bool:
        """``limit`` failures within ``window`` and the last one under ``lockout`` ago."""
        now = self.clock()
        times = self._recent(key, now)
        return (len(times) >= self.limit and times[-1] - times[0] < self.window
                and now - times[-1] < self.lockout)

    def fail(self, key: str) -> bool:
        """Count a failure; True when the key is now locked (this failure reached the limit)."""
        now = self.clock()
        was_locked = self.locked(key)
        times = self._recent(key, now)
        times.append(now)
        self._failures[key] = times
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        while len(times) > self.limit:
            times.popleft()
        return not was_locked and self.locked(key)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)
