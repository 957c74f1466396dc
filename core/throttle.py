"""Sign-in throttling per source (the client's address), beside the per-account lockout.

The lockout stops guessing one account's password; it does not slow *password spraying*
(one common password tried on every account, under each account's limit). So a source's
failed sign-ins are counted over a sliding `WINDOW`: the first `FREE_FAILURES` cost
nothing, after that each further attempt must wait twice as long as the one before
(1 s, 2 s, 4 s ... up to `MAX_DELAY`). A success does not reset a source's count (a
sprayer that guesses one account right is still spraying). The counts live in the
server's memory: the app is one process, and a restart forgetting them only shortens a
delay.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

FREE_FAILURES = 10
WINDOW = timedelta(minutes=15)
MAX_DELAY = timedelta(minutes=5)


class SourceThrottle:
    def __init__(self) -> None:
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def wait(self, source: str, moment: datetime) -> timedelta:
        """How long `source` must still wait before its next attempt is checked (zero: go)."""
        with self._lock:
            recent = self._recent(source, moment)
            if not recent:
                self._failures.pop(source, None)  # forget sources that went quiet
            if len(recent) < FREE_FAILURES:
                return timedelta(0)
            delay = min(timedelta(seconds=2 ** (len(recent) - FREE_FAILURES)), MAX_DELAY)
            return max(recent[-1] + delay - moment, timedelta(0))

    def failed(self, source: str, moment: datetime) -> None:
        with self._lock:
            self._recent(source, moment).append(moment)

    def _recent(self, source: str, moment: datetime) -> deque[datetime]:
        failures = self._failures.setdefault(source, deque())
        while failures and failures[0] <= moment - WINDOW:
            failures.popleft()
        return failures


SIGN_INS = SourceThrottle()  # the server's one throttle
