"""Page speed as a user feels it: each role's main clicks in a real browser (Playwright with
Debian's Chromium) against `streamlit run` on localhost over a copy of a demo database.

Target: p95 at most 1.5 s for every click, and at most 3 s for the first Monitoring load
(the manager's sign-in, which lands on it).

    .venv/bin/python -m benchmarks.bench_pages [--database data/claimlens.db] [--models models]
        [--repeats 5] [--browser returning|fresh] [--budget 900] [--port 8660] [--app dashboard/app.py]
        [--set runner.postScriptGC=false] [--trace] [--py-spy BINARY] [--keep]

The database is copied (SQLite's backup API, reading the original read-only) to a temporary
folder and upgraded to this checkout's schema; one benchmark user per role is created on
the copy through `core.accounts`; the app is served from it on 127.0.0.1 (the first free
port of 8660-8669 unless --port), with the file watcher off. Each repeat signs each role
in afresh (see below) and times its clicks:

- adjuster: sign in (lands on the queue), next page of the queue, take next (to the review
  page with its narrative), the queue from the sidebar, a claim opened from the queue;
- compliance: sign in (lands on Explanations), the audit log, an audit-log filter, the
  Explanations page from the sidebar;
- manager: sign in (lands on Monitoring: its first load in the session, and for the
  first repeat the first in the server process), the Models page, Monitoring again, its
  alerts inbox tab, a week (or incident) picked;
- admin: sign in, the Users page.

Each session of a role opens a new tab, signed out, in that role's own browser profile
(`--browser returning`, the default): its cookies are cleared, its HTTP cache is kept, as in
the browser a person signs in from every day, so a role's first session is its first visit
(Streamlit's scripts and Plotly downloaded and compiled) and the later ones are a returning
user's. `--browser fresh` opens every session in a new profile instead.

A click is timed from the action (a click, Enter in a text box, a page load) until
Streamlit has finished it: after the action the server has sent the end of a run (its
ScriptFinished message, read off the websocket; a fragment's run for a widget inside a
fragment), the app's script state is back to "notRunning", the status widget's running
icon is gone, no element of the previous run is left stale, every Plotly chart has drawn,
and the page's own elements are there (a title that is there but hidden is timed all the
same and noted), and until the browser's main thread has finished the work the click
caused: the click ends with the last long task (50 ms or more) that ran on after that, and
the next one starts only after 500 ms without one, so a page's trailing layout and drawing
count to its own click, not to the next. The wall time covers the server, the websocket and the browser's
rendering, all on this machine, so the CPU's speed flags and the machine's load are printed
with the figures, and each click's CPU seconds in the server process and in Chromium's
processes beside it (on a loaded machine these say more than the wall time).

`--set runner.postScriptGC=false` tries a Streamlit setting without editing a file.
`--trace` serves the app through `benchmarks.page_trace`, which times every `attempt(...)`,
sign-in, chart and table call in the server, and prints per click the calls that took
the time; `--py-spy BINARY` samples the server and prints where its script threads were.
Results go to benchmarks/results/bench_pages-<time>.json (ignored by git), with a
screenshot of each failed click beside it. The run stops the server and the browser on
every exit, starts no click once --budget seconds have passed, and a watchdog ends it
240 s after that.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks.common import p95

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PORTS = range(8660, 8670)
TARGET_S = 1.5
FIRST_MONITORING = "manager: sign in → Monitoring (first load)"
ALERTS_TAB = "Alerts inbox"
TARGETS = {FIRST_MONITORING: 3.0}
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "amx_int8")
ROLES = ("adjuster", "compliance", "manager", "admin")
PASSWORD = "bench-pages-password-1"
SERVER_START_S = 120
WATCHDOG_GRACE_S = 120

# What the page shows when a wait runs out, for the failure's message.
STATE_JS = """
() => ({
  state: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
  running_icon: !!document.querySelector('[data-testid="stStatusWidgetRunningIcon"]'),
  stale: document.querySelectorAll('[data-testid="stElementContainer"][data-stale="true"]').length,
  charts_waiting: [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter(c => !c.querySelector('.main-svg')).length,
})
"""
FINISHED = {0: "run", 1: "run", 3: "fragment"}  # ScriptFinishedStatus: successfully, compile error, fragment run
POLL_MS = 20  # how often a wait looks (rAF polling stalls when the headless page draws no frames)
# Drawn: the script is not running, the status widget shows no running icon, nothing of
# the previous run is left stale, and every Plotly chart has drawn.
SETTLED_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')) return false;
  if (document.querySelector('[data-testid="stElementContainer"][data-stale="true"]')) return false;
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (!chart.querySelector('.main-svg')) return false;
  }
  return true;
}
"""


# The main thread's long tasks (50 ms or more), recorded from each page's start; a click
# has finished its work once none has run for QUIET_MS.
LONG_TASKS_JS = """
window.__benchBusyUntil = 0;
new PerformanceObserver((list) => {
  for (const task of list.getEntries()) {
    window.__benchBusyUntil = Math.max(window.__benchBusyUntil, task.startTime + task.duration);
  }
}).observe({type: 'longtask', buffered: true});
"""
QUIET_MS = 500
QUIET_JS = "(quiet) => performance.now() - (window.__benchBusyUntil || 0) > quiet"
BUSY_JS = "() => [performance.now(), window.__benchBusyUntil || 0]"


class OutOfTime(Exception):
    """The run's budget is spent: start no more clicks."""


class StepFailed(Exception):
    """A click did not finish as expected; the rest of that browser session is skipped."""


@dataclass
class Sample:
    seconds: float
    start: float  # epoch seconds, to match the server's trace
    end: float
    server_cpu_s: float | None = None  # the Streamlit process's CPU seconds during the click
    browser_cpu_s: float | None = None  # Chromium's processes', together


@dataclass
class Click:
    label: str
    target_s: float
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a user would notice beside the time


@dataclass(frozen=True)
class Title:
    """A page's title: it must be in the page, and a click whose page shows it hidden is
    timed all the same, with a note (the page's other elements say when it is ready)."""

    text: str


def summarise(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """n, median, p95 (inclusive), first and max of a click's times; None where there are none."""
    if not seconds:
        return {"n": 0, "median": None, "p95": None, "first": None, "max": None}
    return {
        "n": len(seconds),
        "median": statistics.median(seconds),
        "p95": p95(seconds),
        "first": seconds[0],
        "max": max(seconds),
    }


def meets(click: Click) -> bool | None:
    """Whether the click's p95 is within its target (None without samples). The first
    Monitoring load is judged on the first sample, the cold one, too."""
    summary = summarise([s.seconds for s in click.samples])
    if summary["p95"] is None:
        return None
    worst = max(summary["p95"], summary["first"] or 0.0)  # type: ignore[type-var]
    return worst <= click.target_s


def _figure(value: float | int | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def format_table(clicks: Sequence[Click]) -> str:
    """One line per click: n, median, p95, first, max (seconds), the server's and the
    browser's median CPU seconds, target, verdict."""
    header = (
        f"{'click':<46} {'n':>2} {'median':>7} {'p95':>7} {'first':>7} {'max':>7} {'server':>6} {'browser':>7}"
        f" {'target':>6}  ok"
    )
    lines = [header, "-" * len(header)]
    for click in clicks:
        summary = summarise([s.seconds for s in click.samples])
        cpu = [s.server_cpu_s for s in click.samples if s.server_cpu_s is not None]
        browser = [s.browser_cpu_s for s in click.samples if s.browser_cpu_s is not None]
        verdict = {True: "yes", False: "NO", None: "—"}[meets(click)]
        failed = f"  ({len(click.failures)} failed)" if click.failures else ""
        failed += f"  ({len(click.notes)} noted)" if click.notes else ""
        lines.append(
            f"{click.label:<46} {summary['n']:>2} {_figure(summary['median']):>7} {_figure(summary['p95']):>7} "
            f"{_figure(summary['first']):>7} {_figure(summary['max']):>7} "
            f"{_figure(statistics.median(cpu) if cpu else None):>6} "
            f"{_figure(statistics.median(browser) if browser else None):>7} {click.target_s:>6.1f}  {verdict}{failed}"
        )
    return "\n".join(lines)


def cpu_flags(cpuinfo: str) -> dict[str, Any]:
    """The CPU's model name and which of SPEED_FLAGS it has, from /proc/cpuinfo's text."""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags_line = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    return {"model": model.group(1).strip() if model else "unknown", **{f: f in flags for f in SPEED_FLAGS}}


def machine_load() -> dict[str, Any]:
    """Load average and busy share of the CPUs over one second, and the top processes by CPU."""
    import psutil

    busy = psutil.cpu_percent(interval=1.0)
    top = []
    for process in psutil.process_iter(["pid", "name", "cpu_percent"]):
        process.cpu_percent(None)
    time.sleep(1.0)
    for process in psutil.process_iter(["pid", "name"]):
        try:
            top.append((process.cpu_percent(None), process.info["name"]))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    top.sort(reverse=True)
    return {
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpu_busy_percent": busy,
        "top": [f"{name} {cpu:.0f}%" for cpu, name in top[:6] if cpu >= 5],
    }


def machine() -> dict[str, Any]:
    info = cpu_flags(Path("/proc/cpuinfo").read_text(encoding="utf-8")) if Path("/proc/cpuinfo").exists() else {}
    return {"cpus": os.cpu_count(), **info}


def attribute(events: Sequence[dict[str, Any]], clicks: Sequence[Click], top: int = 8) -> dict[str, Any]:
    """Per click, the server's script time and the traced calls that started inside its
    samples' windows: mean seconds and calls per click, largest first."""
    report: dict[str, Any] = {}
    for click in clicks:
        if not click.samples:
            continue
        totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for sample in click.samples:
            for event in events:
                if sample.start <= event["start"] < sample.end:
                    entry = totals[(event["kind"], event["what"])]
                    entry[0] += event["seconds"]
                    entry[1] += 1
        n = len(click.samples)
        script = sum(v[0] for (kind, _), v in totals.items() if kind == "script") / n
        calls = sorted(
            ((kind, what, v[0] / n, v[1] / n) for (kind, what), v in totals.items() if kind != "script"),
            key=lambda c: -c[2],
        )
        report[click.label] = {
            "script_s": script,
            "calls": [{"kind": k, "what": w, "seconds": s, "per_click": c} for k, w, s, c in calls[:top]],
        }
    return report


def format_attribution(report: dict[str, Any]) -> str:
    lines = []
    for label, entry in report.items():
        lines.append(f"{label}: server script time {entry['script_s']:.2f} s per click")
        for call in entry["calls"]:
            lines.append(f"    {call['seconds']:6.3f} s  ×{call['per_click']:<4.1f} {call['kind']:<8} {call['what']}")
    return "\n".join(lines)


PROJECT_FRAME = re.compile(
    r"\((?:core|dashboard|db)/[^)]*\)|\((?:app|login|queue|review|explanations|audit_log|monitoring|models|users)\.py"
)


def profile_summary(raw: str, top: int = 15) -> dict[str, Any]:
    """From py-spy's raw output (`--threads`: one `thread;frame;frame... count` line per
    stack), the script threads' samples: how many, the share under imports, and the
    project's frames (and every `<module>` frame) by the share of samples they are on."""
    total = imports = 0
    on: dict[str, int] = defaultdict(int)
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or "ScriptRunner.scriptThread" not in frames[0]:
            continue
        samples = int(count)
        total += samples
        imports += samples if any(f.startswith("_find_and_load ") for f in frames) else 0
        for frame in {re.sub(r":\d+\)$", ")", f) for f in frames[1:]}:
            if PROJECT_FRAME.search(frame) or frame.startswith("<module> "):
                on[frame] += samples
    ranked = sorted(on.items(), key=lambda item: -item[1])[:top]
    return {
        "samples": total,
        "import_share": imports / total if total else 0.0,
        "frames": [{"frame": frame, "share": n / total} for frame, n in ranked],
    }


def format_profile(summary: dict[str, Any]) -> str:
    share = summary["import_share"]
    lines = [f"py-spy: {summary['samples']} samples in script threads, {share:.0%} of them importing modules"]
    lines += [f"    {f['share']:6.1%}  {f['frame']}" for f in summary["frames"]]
    return "\n".join(lines)


def read_trace(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a trace file; a line cut short by the server's exit is skipped."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file, the original opened read-only."""
    with (
        closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as original,
        closing(sqlite3.connect(target)) as copy,
    ):
        original.backup(copy)


def upgrade_copy(url: str) -> None:
    """Bring the copy to this checkout's schema (a demo built by an older checkout lacks its
    tables); a migration that fails stops the run with its message."""
    from sqlalchemy.exc import SQLAlchemyError

    from db import migrate
    from db.session import engine_for

    try:
        migrate.upgrade(url)
    except SQLAlchemyError as error:
        raise SystemExit(
            f"could not upgrade the copy to this checkout's schema: {str(error).splitlines()[0]}"
        ) from error
    finally:
        engine_for(url).dispose()


def create_users(url: str) -> dict[str, str]:
    """One benchmark user per role on the copy (password reset if it exists): role → username."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from core import accounts
    from core.auth import Role, cli_actor
    from db.models import User
    from db.session import engine_for

    names = {}
    with Session(engine_for(url)) as session, session.begin():
        for role in ROLES:
            username = f"bench-{role}"
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                accounts.create_user(session, actor=cli_actor(), username=username, role=Role(role), password=PASSWORD)
            else:
                accounts.reset_password(session, actor=cli_actor(), user_id=user.id, password=PASSWORD)
            names[role] = username
    engine_for(url).dispose()
    return names


def free_port(candidates: Sequence[int]) -> int:
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port among {candidates[0]}-{candidates[-1]}: pass --port")


def make_run_script() -> str:
    """The script `make run` serves (the Makefile's `streamlit run X`), else dashboard/app.py."""
    makefile = ROOT / "Makefile"
    found = re.search(r"streamlit run (\S+\.py)", makefile.read_text(encoding="utf-8")) if makefile.exists() else None
    return found.group(1) if found else "dashboard/app.py"


@contextmanager
def serve(
    app: str,
    port: int,
    env: dict[str, str],
    log: Path,
    trace: Path | None,
    py_spy: tuple[str, Path] | None = None,
    options: Sequence[str] = (),
) -> Iterator[subprocess.Popen]:  # type: ignore[type-arg]
    """`streamlit run app` on 127.0.0.1:port, healthy; stopped (its process group) on exit.
    With `py_spy` (the binary, the output file) the server runs under `py-spy record`;
    `options` are more Streamlit settings, "section.name=value"."""
    runner = ["-m", "benchmarks.page_trace"] if trace else ["-m", "streamlit"]
    command = [
        sys.executable, *runner, "run", app, "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
        *(part for option in options for part in (f"--{option.split('=', 1)[0]}", option.split("=", 1)[1])),
    ]  # fmt: skip
    if py_spy:
        binary, profile = py_spy
        sampler = [binary, "record", "-o", str(profile), "-f", "raw", "-r", "25", "--threads", "--nonblocking", "--"]
        command = [*sampler, *command]
    if trace:
        env = {**env, "CLAIMLENS_PAGE_TRACE": str(trace)}
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                raise SystemExit(f"streamlit exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"streamlit not healthy after {SERVER_START_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield server
    finally:
        _stop(server, gently=py_spy is not None)


def _stop(server: subprocess.Popen, gently: bool = False) -> None:  # type: ignore[type-arg]
    """End the server's process group; `gently` first sends SIGINT (py-spy then writes its file)."""
    if server.poll() is not None:
        return
    if gently:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            pass
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


class Bench:
    """Drives one browser; times clicks into `clicks` by label."""

    def __init__(
        self, browser: Any, base_url: str, users: dict[str, str], server_pid: int, deadline: float,
        timeout_ms: int, shots: Path, returning: bool,
    ) -> None:  # fmt: skip
        import psutil

        self.browser, self.base_url, self.users = browser, base_url, users
        server = psutil.Process(server_pid)  # under py-spy, the Python process is its child
        self.server = next((p for p in server.children(recursive=True) if "python" in p.name()), server)
        self.deadline, self.timeout_ms, self.shots = deadline, timeout_ms, shots
        self.clicks: dict[str, Click] = {}
        self.page: Any = None
        self.repeat = 0
        self.finished = {"run": 0, "fragment": 0}  # runs the server finished, counted from its messages
        self.returning = returning
        self.profiles: dict[str, Any] = {}  # role -> its browser context, when returning

    def _frame(self, payload: bytes | str) -> None:
        """Count the runs the server says it finished (its ScriptFinished messages): the
        page's own script-state attribute can skip a run that starts and ends within one
        render of a busy browser."""
        from google.protobuf.message import DecodeError
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if not isinstance(payload, bytes):
            return
        message = ForwardMsg()
        try:
            message.ParseFromString(payload)
        except DecodeError:  # not a ForwardMsg: not a run's end
            return
        if message.WhichOneof("type") == "script_finished":
            kind = FINISHED.get(message.script_finished)
            if kind:
                self.finished[kind] += 1

    def click(self, label: str) -> Click:
        return self.clicks.setdefault(label, Click(label, TARGETS.get(label, TARGET_S)))

    def _server_cpu(self) -> float:
        times = self.server.cpu_times()
        return times.user + times.system

    def _browser_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each Chromium process (this process's descendants)."""
        import psutil

        seconds = {}
        for process in psutil.Process().children(recursive=True):
            try:
                if "chrom" in process.name() or "headless" in process.name():
                    times = process.cpu_times()
                    seconds[process.pid] = times.user + times.system
            except psutil.Error:
                continue
        return seconds

    @contextmanager
    def session(self, role: str) -> Iterator[Any]:
        """A new tab, signed out: in a new browser profile (`fresh`), or in the role's own
        profile with its cookies cleared (`returning`: the HTTP cache of the earlier
        sessions stays, as in the browser a person uses every day)."""
        if self.returning and role in self.profiles:
            context = self.profiles[role]
            context.clear_cookies()
        else:
            context = self.browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=self.base_url)
            context.set_default_timeout(self.timeout_ms)
            context.add_init_script(LONG_TASKS_JS)
            if self.returning:
                self.profiles[role] = context
        try:
            self.page = context.new_page()
            self.page.on("websocket", lambda socket: socket.on("framereceived", self._frame))
            yield self.page
        finally:
            self.page.close()
            self.page = None
            if not self.returning:
                context.close()

    def close(self) -> None:
        for context in self.profiles.values():
            context.close()
        self.profiles.clear()

    def _wait_finished(self, kind: str, before: int) -> None:
        """Until the server has finished a run of `kind` ("run" or "fragment") since `before`."""
        from playwright.sync_api import TimeoutError

        deadline = time.perf_counter() + self.timeout_ms / 1000
        while self.finished[kind] <= before:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no {kind} finished within {self.timeout_ms} ms")
            self.page.wait_for_timeout(POLL_MS)  # lets Playwright deliver the socket's frames

    def timed(self, label: str, action: Callable[[], None], *ready: Any, runs: str = "run") -> None:
        """Time `action` until the server has finished a run of `runs` ("run", "fragment")
        begun after it, the page has drawn it, and every `ready` element is there."""
        from playwright.sync_api import Error

        if time.monotonic() > self.deadline:
            raise OutOfTime
        page, click = self.page, self.click(label)
        before = self.finished[runs]
        cpu, browser = self._server_cpu(), self._browser_cpu()
        start, began = time.time(), time.perf_counter()
        try:
            action()
            self._wait_finished(runs, before)
            page.wait_for_function(SETTLED_JS, polling=POLL_MS, timeout=self.timeout_ms)
            titles = [self._title(r.text) for r in ready if isinstance(r, Title)]
            for locator in titles:
                locator.wait_for(state="attached", timeout=self.timeout_ms)
            for locator in (r for r in ready if not isinstance(r, Title)):
                locator.first.wait_for(state="visible", timeout=self.timeout_ms)
            page.wait_for_function(SETTLED_JS, polling=POLL_MS, timeout=self.timeout_ms)
            finished = self._busy_until(max_wait_s=self.timeout_ms / 1000)
        except Error as error:
            message = str(error).splitlines()[0][:200]
            with suppress(Error):
                message += f" (finished {self.finished}, {before} before; page {page.evaluate(STATE_JS)})"
            click.failures.append(message)
            shot = self.shots / f"failed-{re.sub(r'[^a-z0-9]+', '-', label.lower())}-{self.repeat}.png"
            with suppress(Error):
                page.screenshot(path=str(shot), full_page=True)
            raise StepFailed(f"{label}: {message} (screenshot {shot})") from error
        seconds = finished - began
        end, server_cpu, browser_after = time.time(), self._server_cpu() - cpu, self._browser_cpu()
        browser_cpu = sum(after - browser.get(pid, 0.0) for pid, after in browser_after.items())
        click.samples.append(Sample(seconds, start, end, server_cpu, browser_cpu))
        for title, locator in zip((r for r in ready if isinstance(r, Title)), titles, strict=True):
            if not locator.is_visible():
                click.notes.append(f"repeat {self.repeat + 1}: the title {title.text!r} is in the page but hidden")

    def _busy_until(self, max_wait_s: float) -> float:
        """When the browser's main thread finished the click's work (perf_counter time):
        now, or the end of its last long task if one ran on after the page looked drawn
        (Plotly lays charts out again once they are on screen). Waits for QUIET_MS
        without a long task first, so the next click starts on an idle browser."""
        settled = time.perf_counter()
        self.page.wait_for_function(QUIET_JS, arg=QUIET_MS, polling=POLL_MS, timeout=max_wait_s * 1000)
        browser_now, last_busy = self.page.evaluate(BUSY_JS)
        now = time.perf_counter()
        return max(settled, now - (browser_now - last_busy) / 1000)

    # The steps each role's session takes.

    def _title(self, text: str) -> Any:
        # Hidden elements are outside the accessibility tree: find the h1 by its text.
        return self.page.locator("h1").filter(has_text=re.compile(rf"^{re.escape(text)}$")).first

    def link(self, text: str) -> Any:
        return self.page.get_by_role("link", name=text, exact=True)

    def open_and_sign_in(self, role: str, label: str, *landing: Any) -> None:
        page, username = self.page, self.users[role]
        self.timed(
            "open the app (sign-in page)",
            lambda: page.goto("/"),
            page.get_by_role("button", name="Sign in"),
        )
        page.get_by_role("textbox", name="Username").fill(username)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        sign_in = page.get_by_role("button", name="Sign in")
        self.timed(label, sign_in.click, self.link(f"Sign out {username}"), *landing)

    def adjuster(self) -> None:
        page = self.page
        grid, narrative = page.get_by_test_id("stDataFrame"), page.get_by_text(re.compile(r"^Narrative"))
        self.open_and_sign_in("adjuster", "adjuster: sign in → queue", Title("Triage queue"), grid)
        self.timed(
            "adjuster: next page of the queue",
            page.get_by_role("button", name="Next page").click,
            page.get_by_text(re.compile(r"\bPage 2\b", re.IGNORECASE)),
        )
        self.timed(
            "adjuster: take next → review",
            page.get_by_role("button", name="Take next claim").click,
            Title("Claim review"),
            narrative,
        )
        self.timed("adjuster: queue (sidebar)", self.link("Triage queue").click, Title("Triage queue"), grid)
        self.timed("adjuster: open a claim from the queue", self._first_row, Title("Claim review"), narrative)

    def _first_row(self) -> None:
        """Select the queue's first row: the grid draws on a canvas, so click where the
        first row's marker is (left edge, below the header row)."""
        box = self.page.get_by_test_id("stDataFrame").first.bounding_box()
        if box is None:
            raise StepFailed("the queue's table is not on screen")
        self.page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)

    def compliance(self) -> None:
        page = self.page
        tab = page.get_by_role("tab", name="Decisions")
        self.open_and_sign_in("compliance", "compliance: sign in → Explanations", Title("Explanations"), tab)
        entries = page.get_by_text(re.compile(r"\bentr(y|ies)\b"))
        self.timed("compliance: audit log (sidebar)", self.link("Audit log").click, Title("Audit log"), entries)
        box = page.get_by_role("textbox", name="Actor")
        box.fill(self.users["adjuster"])
        self.timed("compliance: audit log filter (actor)", lambda: box.press("Enter"), entries)
        self.timed("compliance: Explanations (sidebar)", self.link("Explanations").click, Title("Explanations"), tab)

    def manager(self) -> None:
        page = self.page
        # A chart too: on a first visit the metrics are drawn while Plotly's script still loads,
        # and a chart not yet on the page would count as drawn.
        metric, chart = page.get_by_test_id("stMetric"), page.get_by_test_id("stPlotlyChart")
        self.open_and_sign_in("manager", FIRST_MONITORING, Title("Monitoring"), metric, chart)
        self.timed(
            "manager: Models page (sidebar)",
            self.link("Models and retraining").click,
            Title("Models and retraining"),
            page.get_by_role("heading", name="Registry"),
        )
        self.timed(
            "manager: Monitoring again (sidebar)", self.link("Monitoring").click, Title("Monitoring"), metric, chart
        )
        inbox = page.get_by_role("tab", name=ALERTS_TAB)
        if inbox.count():  # the page's sections are tabs, of which only the open one runs
            self.timed("manager: the alerts inbox (tab)", inbox.click, page.get_by_role("heading", name="Alerts inbox"))
        chooser = page.get_by_role("combobox", name=re.compile(r"week|incident", re.IGNORECASE)).first
        if chooser.count() == 0:
            self.click("manager: pick a week / incident").failures.append("no week or incident selector on the page")
            return
        page.wait_for_function(SETTLED_JS, polling=POLL_MS)  # a rerun would close the list
        chooser.click()
        if chooser.get_attribute("aria-expanded") != "true":
            page.keyboard.press("ArrowDown")
        option = page.get_by_role("option", selected=False).first  # another week: a change reruns
        option.wait_for(state="visible")
        self.timed("manager: pick a week / incident", option.click, runs="fragment")  # the section is a fragment

    def admin(self) -> None:
        grid = self.page.get_by_test_id("stDataFrame")
        self.open_and_sign_in("admin", "admin: sign in", Title("Triage queue"), grid)
        self.timed("admin: Users page (sidebar)", self.link("Users").click, Title("Users"), grid)

    def run(self, repeats: int, roles: Sequence[str], load: list[dict[str, Any]]) -> list[str]:
        """Every role's session, `repeats` times; the messages of the sessions that failed."""
        from playwright.sync_api import Error

        problems = []
        try:
            for self.repeat in range(repeats):
                for role in roles:
                    with self.session(role):
                        try:
                            getattr(self, role)()
                        except StepFailed as failed:
                            problems.append(f"repeat {self.repeat + 1}, {role}: {failed}")
                        except Error as error:  # a step between the timed clicks
                            message = str(error).splitlines()[0][:200]
                            problems.append(f"repeat {self.repeat + 1}, {role}: between clicks: {message}")
                load.append({"after_repeat": self.repeat + 1, "loadavg": [round(x, 2) for x in os.getloadavg()]})
        except OutOfTime:
            problems.append(f"budget spent during repeat {self.repeat + 1}: later clicks not timed")
        return problems


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--database", type=Path, default=Path("data/claimlens.db"), help="SQLite demo database (copied)"
    )
    parser.add_argument("--models", type=Path, default=Path("models"), help="the models folder (CLAIMLENS_MODEL_DIR)")
    parser.add_argument("--repeats", type=int, default=5, help="sessions per role (default 5)")
    parser.add_argument(
        "--browser",
        choices=("returning", "fresh"),
        default="returning",
        help="returning (default): each role's sessions share one browser profile, its HTTP cache kept and its\n"
        "cookies cleared, so the first session is a first visit and the rest are a person's later days;\n"
        "fresh: every session in a new profile (every one a first visit)",
    )
    parser.add_argument("--roles", nargs="+", choices=ROLES, default=list(ROLES), help="roles to time (default all)")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds after which no click starts (default 900)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one click may take (default 30)")
    parser.add_argument("--port", type=int, help="server port (default the first free of 8660-8669)")
    parser.add_argument("--app", default=None, help="the script to serve (default the one `make run` serves)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser (default {CHROMIUM})")
    parser.add_argument("--trace", action="store_true", help="time the server's calls per click (page_trace)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.NAME=VALUE",
        help="a Streamlit setting for the server, e.g. runner.postScriptGC=false (repeatable)",
    )
    parser.add_argument("--py-spy", dest="py_spy", help="a py-spy binary: profile the server (kept with --keep)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON (default benchmarks/results)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (copy, logs, trace)")
    args = parser.parse_args(argv)
    if not args.database.is_file():
        parser.error(f"--database {args.database}: no such file (build the demo with `make run`, or pass a path)")
    with args.database.open("rb") as header:
        if header.read(16) != b"SQLite format 3\x00":
            parser.error(f"--database {args.database}: not a SQLite database")
    if not args.models.is_dir():
        parser.error(f"--models {args.models}: no such folder")
    for option in args.set:
        if not re.fullmatch(r"[A-Za-z]+\.[A-Za-z]+=.+", option):
            parser.error(f"--set {option}: expected SECTION.NAME=VALUE, e.g. runner.postScriptGC=false")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not Path(args.chromium).exists():
        parser.error(f"{args.chromium} missing: apt-get install chromium")
    args.app = args.app or make_run_script()
    if not (ROOT / args.app).is_file():
        parser.error(f"--app {args.app}: no such file under {ROOT}")
    return args


def _watchdog(seconds: float) -> None:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"bench_pages ran past its budget by {WATCHDOG_GRACE_S} s")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(seconds))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    _watchdog(args.budget + WATCHDOG_GRACE_S + SERVER_START_S)
    work = Path(tempfile.mkdtemp(prefix="claimlens-bench-pages-"))
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    shots = args.out / f"bench_pages-{stamp}"
    shots.mkdir()
    info = {"machine": machine(), "load_before": machine_load()}
    print(f"CPU: {info['machine']}")
    print(f"load before: {info['load_before']}")
    try:
        copy = work / "bench.db"
        copy_database(args.database.resolve(), copy)
        url = f"sqlite:///{copy}"
        upgrade_copy(url)
        users = create_users(url)
        port = args.port or free_port(PORTS)
        env = {
            **os.environ, "DATABASE_URL": url, "CLAIMLENS_MODEL_DIR": str(args.models.resolve()), "HF_HUB_OFFLINE": "1",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }  # fmt: skip
        trace = work / "trace.jsonl" if args.trace else None
        load: list[dict[str, Any]] = []
        profile = (args.py_spy, work / "profile.txt") if args.py_spy else None
        with (
            serve(args.app, port, env, work / "streamlit.log", trace, profile, args.set) as server,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            try:
                bench = Bench(
                    browser, f"http://127.0.0.1:{port}", users, server.pid,
                    started + args.budget, int(args.timeout * 1000), shots, args.browser == "returning",
                )  # fmt: skip
                try:
                    problems = bench.run(args.repeats, args.roles, load)
                finally:
                    bench.close()
            finally:
                browser.close()
        clicks = list(bench.clicks.values())
        info["load_after"] = machine_load()
        attribution = attribute(read_trace(trace), clicks) if trace and trace.exists() else None
        print()
        print(format_table(clicks))
        print(
            f"\n{args.repeats} sessions per role; seconds; server, browser = CPU seconds per click (median); "
            f"{time.monotonic() - started:.0f} s in all."
        )
        print(f"load after: {info['load_after']}")
        for problem in problems:
            print(f"! {problem}")
        for click in clicks:
            for note in click.notes:
                print(f"note: {click.label}: {note}")
        if attribution:
            print("\nWhere the server's time went (mean per click):")
            print(format_attribution(attribution))
        spied = None
        if profile and profile[1].exists():
            spied = profile_summary(profile[1].read_text(encoding="utf-8"))
            print("\n" + format_profile(spied))
        result = {
            **info, "args": {k: str(v) for k, v in vars(args).items()}, "app": args.app, "load_during": load,
            "clicks": [
                {
                    "label": c.label, "target_s": c.target_s, "meets": meets(c),
                    **summarise([s.seconds for s in c.samples]),
                    "samples": [asdict(s) for s in c.samples], "failures": c.failures, "notes": c.notes,
                }
                for c in clicks
            ],
            "problems": problems, "attribution": attribution, "profile": spied,
        }  # fmt: skip
        path = args.out / f"bench_pages-{stamp}.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"\nwrote {path}")
        if args.keep:
            print(f"kept the copy, the server log and the trace in {work}")
        return 0 if not problems else 1
    finally:
        signal.alarm(0)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if shots.exists() and not any(shots.iterdir()):
            shots.rmdir()


if __name__ == "__main__":
    sys.exit(main())
