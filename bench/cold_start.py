"""Time from `atendai serve` to the first 200 from /readyz, on a fresh data dir (cold) and again (warm).

Usage: .venv/bin/python bench/cold_start.py [--runs 3]
Cold includes initdb of the embedded PostgreSQL and every migration; warm reuses the data dir.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

from support import serve


def time_to_ready(data_dir: str) -> float:
    with serve(data_dir) as served:
        return served.seconds_to_ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="atendai-bench-") as tmp:
            data_dir = os.path.join(tmp, "data")
            cold.append(time_to_ready(data_dir))
            warm.append(time_to_ready(data_dir))
    print(
        f"cold start to first 200 (fresh data dir, initdb + migrations): median {statistics.median(cold):.2f} s  runs {[round(x, 2) for x in cold]}"
    )
    print(
        f"warm start to first 200 (existing data dir):                  median {statistics.median(warm):.2f} s  runs {[round(x, 2) for x in warm]}"
    )


if __name__ == "__main__":
    main()
