"""The page benchmark's own helpers: summaries, the table, CPU flags, input checks, the
database copy and the server trace's attribution (no browser, no demo database)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from benchmarks import bench_pages, page_trace
from benchmarks.bench_pages import Click, Sample

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480C
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile amx_bf16
processor\t: 1
"""


def _click(label: str, seconds: list[float], target: float = 1.5, start: float = 100.0) -> Click:
    click = Click(label, target)
    for i, s in enumerate(seconds):
        click.samples.append(Sample(s, start + 10 * i, start + 10 * i + s, 0.1, 0.2))
    return click


def test_summary_gives_median_p95_first_and_max() -> None:
    summary = bench_pages.summarise([1.0, 2.0, 3.0, 4.0, 10.0])
    assert summary["n"] == 5
    assert summary["median"] == 3.0
    assert summary["first"] == 1.0 and summary["max"] == 10.0
    assert 4.0 < summary["p95"] <= 10.0  # type: ignore[operator]
    assert bench_pages.summarise([]) == {"n": 0, "median": None, "p95": None, "first": None, "max": None}
    assert bench_pages.summarise([0.7])["p95"] == 0.7


def test_a_click_meets_its_target_on_p95_and_on_its_cold_first_sample() -> None:
    assert bench_pages.meets(_click("fast", [0.4, 0.5, 0.6, 0.5, 0.4])) is True
    assert bench_pages.meets(_click("slow tail", [0.4, 0.5, 0.6, 0.5, 2.4])) is False
    assert bench_pages.meets(_click("cold first", [3.5, 0.5, 0.6, 0.5, 0.4], target=3.0)) is False
    assert bench_pages.meets(Click("never ran", 1.5)) is None


def test_table_shows_each_click_with_its_verdict_and_failures() -> None:
    failed = Click("manager: pick a week / incident", 1.5, failures=["no selector"])
    table = bench_pages.format_table([_click("adjuster: take next → review", [1.0, 2.0, 3.0]), failed])
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["click", "n", "median", "p95"]
    taken = next(line for line in lines if line.startswith("adjuster: take next"))
    assert taken.split()[-9:] == ["3", "2.00", "2.90", "1.00", "3.00", "0.10", "0.20", "1.5", "NO"]
    assert any(line.startswith("manager: pick a week") and line.endswith("(1 failed)") for line in lines)


def test_cpu_flags_name_the_model_and_the_speed_flags() -> None:
    flags = bench_pages.cpu_flags(CPUINFO)
    assert flags["model"] == "Intel(R) Xeon(R) Platinum 8480C"
    assert flags["avx2"] and flags["avx512_bf16"] and flags["amx_bf16"]
    assert not flags["avx512_vnni"] and not flags["amx_int8"]
    assert bench_pages.cpu_flags("")["model"] == "unknown"


def test_attribution_counts_only_the_calls_inside_each_sample() -> None:
    click = _click("adjuster: sign in → queue", [2.0, 2.0], start=100.0)  # windows 100-102 and 110-112
    events = [
        {"start": 100.1, "seconds": 1.5, "kind": "script", "what": "queue"},
        {"start": 100.2, "seconds": 1.0, "kind": "core", "what": "accounts.authenticate"},
        {"start": 110.2, "seconds": 0.6, "kind": "core", "what": "accounts.authenticate"},
        {"start": 110.5, "seconds": 0.2, "kind": "attempt", "what": "queue.py:52 queue_page"},
        {"start": 105.0, "seconds": 9.0, "kind": "attempt", "what": "between the clicks"},
    ]
    report = bench_pages.attribute(events, [click, Click("no samples", 1.5)])
    assert list(report) == ["adjuster: sign in → queue"]
    entry = report["adjuster: sign in → queue"]
    assert entry["script_s"] == pytest.approx(0.75)
    assert [(c["what"], c["seconds"], c["per_click"]) for c in entry["calls"]] == [
        ("accounts.authenticate", pytest.approx(0.8), 1.0),
        ("queue.py:52 queue_page", pytest.approx(0.1), 0.5),
    ]
    assert "accounts.authenticate" in bench_pages.format_attribution(report)


def test_trace_lines_cut_short_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    log = page_trace.TraceLog(path)
    wrapped = page_trace.timed(log, "attempt", page_trace.action_name, lambda action: action(None))
    assert wrapped(lambda s: 42) == 42  # the wrapper returns what the call returns
    with path.open("a", encoding="utf-8") as file:
        file.write('{"start": 1.0, "seconds"')  # the server stopped mid-line
    (event,) = bench_pages.read_trace(path)
    assert event["kind"] == "attempt" and event["seconds"] >= 0
    assert event["what"].startswith("tests/benchmarks/test_bench_pages.py:")
    assert "assert wrapped(lambda s: 42) == 42" in event["what"]
    assert json.loads(path.read_text().splitlines()[0])["thread"]


def test_copy_is_complete_and_leaves_the_original_untouched(tmp_path: Path) -> None:
    original, copy = tmp_path / "original.db", tmp_path / "copy.db"
    with closing(sqlite3.connect(original)) as connection:
        connection.execute("CREATE TABLE claims (id INTEGER PRIMARY KEY, number TEXT)")
        connection.executemany("INSERT INTO claims (number) VALUES (?)", [(f"CLM-{i}",) for i in range(100)])
        connection.commit()
    before = original.read_bytes()
    bench_pages.copy_database(original, copy)
    with closing(sqlite3.connect(copy)) as connection:
        connection.execute("DELETE FROM claims WHERE id > 10")
        connection.commit()
    with closing(sqlite3.connect(original)) as connection:
        assert connection.execute("SELECT count(*) FROM claims").fetchone() == (100,)
    assert original.read_bytes() == before


@pytest.mark.parametrize(("contents", "message"), [(None, "no such file"), (b"hello", "not a SQLite database")])
def test_a_bad_database_gets_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], contents: bytes | None, message: str
) -> None:
    path = tmp_path / "demo.db"
    if contents is not None:
        path.write_bytes(contents)
    with pytest.raises(SystemExit) as stopped:
        bench_pages.parse_args(["--database", str(path), "--models", str(tmp_path)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"--database {path}: {message}" in err and "Traceback" not in err


def test_a_missing_models_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "demo.db"
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(SystemExit):
        bench_pages.parse_args(["--database", str(database), "--models", str(tmp_path / "nowhere")])
    assert "--models" in capsys.readouterr().err


def test_profile_summary_counts_script_threads_and_their_imports() -> None:
    raw = "\n".join(
        [
            "thread (1): ScriptRunner.scriptThread;run (x.py:1);<module> (review.py:8);_find_and_load (<frozen>:1);"
            "<module> (torch/__init__.py:3) 6",
            "thread (1): ScriptRunner.scriptThread;run (x.py:1);queue (core/triage.py:40) 3",
            "thread (1): ScriptRunner.scriptThread;run (x.py:1);queue (core/triage.py:41) 1",
            "thread (2): MainThread;serve (uvicorn/server.py:86) 50",
            "a cut-off line",
        ]
    )
    summary = bench_pages.profile_summary(raw)
    assert summary["samples"] == 10  # the event loop's 50 are not the pages' work
    assert summary["import_share"] == pytest.approx(0.6)
    shares = {f["frame"]: f["share"] for f in summary["frames"]}
    assert shares == {
        "<module> (review.py)": pytest.approx(0.6),
        "<module> (torch/__init__.py)": pytest.approx(0.6),
        "queue (core/triage.py)": pytest.approx(0.4),  # two lines of one function, counted together
    }
    assert "60% of them importing" in bench_pages.format_profile(summary)
