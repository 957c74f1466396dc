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


class AdministratorDelays:
    """How long each source must wait before its next guess at an administrator's password,
    once the account is past its failure limit (`core.accounts`).

    Administrators are never locked, or anyone could lock every one of them out and leave
    no one to unlock the rest. A delay on the account itself would do the same thing more
    slowly: an attacker sending one guess as each delay ends would keep the real
    administrator refused. So the delay is kept per (account, source): each source's
    failures double *its* wait (1 s, 2 s, 4 s ... up to the cap), and an administrator
    signing in from another address waits for nothing. The caller holds the account's row
    lock while it asks and records (`accounts._claim_attempt`), so racing guesses from one
    source are checked one at a time.
    """

    def __init__(self) -> None:
        self._delays: dict[tuple[int, str], tuple[int, datetime]] = {}  # → (failures, next allowed)
        self._lock = threading.Lock()

    def wait(self, user_id: int, source: str | None, moment: datetime) -> timedelta:
        with self._lock:
            entry = self._delays.get((user_id, source or ""))
            return max(entry[1] - moment, timedelta(0)) if entry else timedelta(0)

    def failed(self, user_id: int, source: str | None, moment: datetime, cap: timedelta) -> datetime:
        """Record a wrong password from `source`; the moment its next guess is checked."""
        with self._lock:
            failures = self._delays.get((user_id, source or ""), (0, moment))[0]
            allowed = moment + timedelta(seconds=min(2**failures, cap.total_seconds()))  # 2**47 s overflows
            self._delays[(user_id, source or "")] = (failures + 1, allowed)
            self._forget_stale(moment, cap)
            return allowed

    def forget(self, user_id: int, source: str | None) -> None:
        """After the right password from `source`: that source starts afresh (others keep waiting)."""
        with self._lock:
            self._delays.pop((user_id, source or ""), None)

    def _forget_stale(self, moment: datetime, cap: timedelta) -> None:
        # A source whose wait ended a window ago is treated as new: bounded memory under spraying.
        for key in [key for key, (_, allowed) in self._delays.items() if allowed + WINDOW + cap < moment]:
            del self._delays[key]


ADMINISTRATOR_DELAYS = AdministratorDelays()
