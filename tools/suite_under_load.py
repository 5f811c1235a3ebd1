"""The test suite (or any part of it) on a busy machine, several times in a row.

    .venv/bin/python -m tools.suite_under_load --runs 3 --out /tmp/loaded            # the whole suite
    .venv/bin/python -m tools.suite_under_load --runs 5 -- tests/link tests/obs      # a part

A streamer's machine runs a game and an encoder beside OBS; a behaviour test must pass
there too. Each run starts one CPU-bound process per core (testkit.load) beside pytest,
then runs it with the arguments after `--`. Writes OUT/runs.json (per run: exit code,
minutes, pytest's summary line, the failed tests) and OUT/run-N.log (pytest's output, the
failures' tracebacks with it), and prints one line per run; the exit
code is 1 when any run failed. --quiet-runs adds runs without the load, for the time a
quiet machine takes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from testkit import REPO
from testkit.load import busy_cpus


def run_once(pytest_args: list[str], loaded: bool) -> dict:
    command = [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", *pytest_args]
    started = time.monotonic()
    if loaded:
        with busy_cpus():
            result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    else:
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    summary = next((line for line in reversed(lines) if re.search(r"\d+ (passed|failed)", line)), "")
    failed = sorted({match.group(1) for match in re.finditer(r"^FAILED (\S+)", result.stdout, re.M)})
    return {"loaded": loaded, "exit_code": result.returncode, "minutes": round((time.monotonic() - started) / 60, 1),
            "summary": summary.strip("= "), "failed": failed, "cores_busy": os.cpu_count() if loaded else 0,
            "output": result.stdout + result.stderr}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else ["tests"]
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs with every core kept busy (default 3)")
    parser.add_argument("--quiet-runs", type=int, default=0, help="runs without the load, after them")
    parser.add_argument("--out", default="/tmp/suite-under-load", help="folder for runs.json")
    args = parser.parse_args(own)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for index, loaded in enumerate([True] * args.runs + [False] * args.quiet_runs, 1):
        print(f"run {index}: {'every core busy' if loaded else 'quiet'}, pytest {' '.join(pytest_args)} ...",
              flush=True)
        runs.append(run_once(pytest_args, loaded))
        (out / f"run-{index}.log").write_text(runs[-1].pop("output"))   # the failures' tracebacks
        (out / "runs.json").write_text(json.dumps(runs, indent=1))
        record = runs[-1]
        print(f"run {index}: exit {record['exit_code']} in {record['minutes']} min: {record['summary']}"
              + (f"; failed: {', '.join(record['failed'])}" if record["failed"] else ""), flush=True)
    return 1 if any(run["exit_code"] for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
