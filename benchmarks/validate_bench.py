"""How long `konvsync validate` takes on a 5 MB file of users (issue 4:
under 5 s on the project's 2-core machine).

    python benchmarks/validate_bench.py [--mb 5]

Runs the real CLI in a fresh process and prints users, MB and seconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_users(path: Path, megabytes: float) -> int:
    lines = ["konvsync: 1", "users:"]
    size, index = 0, 0
    while size < megabytes * 1_000_000:
        entry = (
            f"  - email: user{index}@example.com\n    firstName: First{index}\n"
            f"    lastName: Last{index}\n    title: Engineer\n"
        )
        lines.append(entry.rstrip("\n"))
        size += len(entry)
        index += 1
    path.write_text("\n".join(lines) + "\n")
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "users.yaml"
        users = write_users(path, args.mb)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "konvsync", "validate", str(path)],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
    status = "valid" if result.returncode == 0 else f"exit {result.returncode}"
    size = path.stat().st_size / 1e6 if path.exists() else args.mb
    print(f"validate: {users} users, {size:.1f} MB: {seconds:.2f} s ({status}; target < 5 s)")


if __name__ == "__main__":
    main()
