"""``python -m benchmarks [NAME ...]``: run every benchmark (or the named ones), print each
row, update RESULTS.md, and exit non-zero when one could not run or failed a check."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from . import ALL
from ._harness import CheckFailedError, NotRunError, Row, log, write_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of: {', '.join(ALL)}")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in ALL]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(ALL)}")
    names = args.names or ALL
    results: dict[str, list[Row]] = {}
    problems: list[str] = []
    started = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        log(f"== {name}: {module.TITLE}")
        t0 = time.perf_counter()
        try:
            rows: list[Row] = module.run()
        except CheckFailedError as exc:
            problems.append(f"{name}: correctness check failed: {exc}")
            log(f"   FAILED CHECK: {exc}")
            continue
        except NotRunError as exc:
            problems.append(f"{name}: could not run: {exc}")
            log(f"   NOT RUN: {exc}")
            if not exc.rows:
                continue
            rows = exc.rows
        except Exception:
            problems.append(f"{name}: crashed:\n{traceback.format_exc()}")
            log(f"   CRASHED:\n{traceback.format_exc()}")
            continue
        results[name] = rows
        for r in rows:
            log(f"   {r.name}: {r.ratio} | {r.figures}" + (f" | {r.notes}" if r.notes else ""))
        log(f"   ({time.perf_counter() - t0:.1f} s)")
    if results and not args.no_write:
        write_results(results, order=ALL)
    log(f"total {time.perf_counter() - started:.1f} s")
    for p in problems:
        log(f"PROBLEM: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
