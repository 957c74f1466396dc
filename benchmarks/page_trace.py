"""`streamlit run` with timing hooks, for `benchmarks.bench_pages --trace`: where the server
spends a click's time. Benchmark-only; the app itself is unchanged.

    CLAIMLENS_PAGE_TRACE=trace.jsonl python -m benchmarks.page_trace run dashboard/app.py [streamlit options]

Each hooked call appends one JSON line {"start": epoch s, "seconds", "kind", "what", "thread"}:

- script: one script run (ScriptRunner._run_script, st.rerun chains included), by page;
- attempt: `dashboard.ui.attempt(action)`, named by the action's source line;
- ui: `current_actor` and `claim_or_stop`; core: `core.accounts.authenticate` and `resume`;
- chart: every public function of `dashboard.charts`; element: `dataframe`, `plotly_chart`
  and `html` (their serialisation).

The dashboard modules are patched as they are first imported (inside the first script
run, as without tracing), so cold-start imports still count in the first click.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import inspect
import json
import linecache
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

TRACE_ENV = "CLAIMLENS_PAGE_TRACE"
ROOT = Path(__file__).resolve().parents[1]
ELEMENTS = ("dataframe", "plotly_chart", "html")


class TraceLog:
    """Appends one JSON line per timed call; safe across the server's threads."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def write(self, start: float, seconds: float, kind: str, what: str) -> None:
        line = json.dumps(
            {"start": start, "seconds": seconds, "kind": kind, "what": what, "thread": threading.current_thread().name}
        )
        with self._lock:
            self._file.write(line + "\n")


def timed(log: TraceLog, kind: str, name: Callable[..., str], function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, logging each call's wall time under `kind` and `name(*args, **kwargs)`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start, began = time.time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            log.write(start, time.perf_counter() - began, kind, name(*args, **kwargs))

    return wrapper


def action_name(action: object, *_: object, **__: object) -> str:
    """`path:line source` of the callable given to `attempt` (a lambda on one page line)."""
    code = getattr(action, "__code__", None)
    if code is None:
        return repr(action)
    path = Path(code.co_filename)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    source = linecache.getline(code.co_filename, code.co_firstlineno).strip()
    return f"{shown}:{code.co_firstlineno} {source[:120]}"


def _patch_ui(module: ModuleType, log: TraceLog) -> None:
    module.attempt = timed(log, "attempt", action_name, module.attempt)  # type: ignore[attr-defined]
    for name in ("current_actor", "claim_or_stop"):
        setattr(module, name, timed(log, "ui", lambda *a, _n=name, **k: _n, getattr(module, name)))


def _patch_accounts(module: ModuleType, log: TraceLog) -> None:
    for name in ("authenticate", "resume", "resume_cookie"):
        if hasattr(module, name):
            setattr(module, name, timed(log, "core", lambda *a, _n=name, **k: f"accounts.{_n}", getattr(module, name)))


def _patch_charts(module: ModuleType, log: TraceLog) -> None:
    for name, value in list(vars(module).items()):
        if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_"):
            setattr(module, name, timed(log, "chart", lambda *a, _n=name, **k: f"charts.{_n}", value))


PATCHERS: dict[str, Callable[[ModuleType, TraceLog], None]] = {
    "dashboard.ui": _patch_ui,
    "core.accounts": _patch_accounts,
    "dashboard.charts": _patch_charts,
}


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Patches each module in PATCHERS right after it is first executed."""

    def __init__(self, log: TraceLog) -> None:
        self.log = log

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in PATCHERS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader, log = spec.loader, self.log
        execute = loader.exec_module  # type: ignore[union-attr]

        def exec_module(module: ModuleType) -> None:
            execute(module)
            PATCHERS[fullname](module, log)

        loader.exec_module = exec_module  # type: ignore[method-assign,union-attr]
        return spec


def _script_name(runner: object, rerun_data: Any, *_: object, **__: object) -> str:
    page = rerun_data.page_name or rerun_data.page_script_hash or "main"
    return f"{page} (fragment)" if rerun_data.fragment_id_queue else page


def install(path: Path) -> None:
    """Hook the server process; call before Streamlit starts serving."""
    log = TraceLog(path)
    import streamlit
    from streamlit.delta_generator import DeltaGenerator
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    ScriptRunner._run_script = timed(log, "script", _script_name, ScriptRunner._run_script)  # type: ignore[method-assign]
    for name in ELEMENTS:
        setattr(
            DeltaGenerator,
            name,
            timed(log, "element", lambda *a, _n=name, **k: f"st.{_n}", getattr(DeltaGenerator, name)),
        )
        setattr(streamlit, name, getattr(streamlit._main, name))  # st.<name> was bound at import
    for name, patch in PATCHERS.items():
        if name in sys.modules:  # imported already: patch in place
            patch(sys.modules[name], log)
    sys.meta_path.insert(0, _PatchAfterImport(log))


def main() -> None:
    path = os.environ.get(TRACE_ENV)
    if not path:
        sys.exit(f"set {TRACE_ENV} to the trace file to write")
    install(Path(path))
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
