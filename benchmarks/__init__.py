"""segmentkit benchmarks (``make bench``, ``python -m benchmarks [NAME ...]``).

Not part of the test suite: nothing here asserts a time. Each module measures the segmentkit
path against a baseline in the same process, alternating runs, against the fakes on
127.0.0.1, and writes its rows to ``benchmarks/RESULTS.md``.
"""

#: Benchmark modules, in the order they run and appear in RESULTS.md.
ALL = [
    "issue14",
    "overhead",
    "economy",
    "bulk",
    "pacing",
    "memory",
    "sync_plan",
    "matrix",
    "workers",
]
