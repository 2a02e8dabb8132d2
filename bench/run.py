"""Run the quick variant of every benchmark in bench/ that has one (`make bench`).

A script takes part by accepting a `--quick` flag (this runner looks for the text "--quick" in it).
The figures are printed as each script prints them; the exit status is 1 if any script failed.

    .venv/bin/python bench/run.py [name ...]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> None:
    wanted = set(sys.argv[1:])
    failed = []
    for script in sorted(HERE.glob("*.py")):
        if script.name == Path(__file__).name or (wanted and script.stem not in wanted):
            continue
        if "--quick" not in script.read_text(encoding="utf-8"):
            print(f"--- {script.name}: no quick mode, skipped\n", flush=True)
            continue
        print(f"--- {script.name} --quick", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(script), "--quick"], cwd=ROOT).returncode
        print(f"--- {script.name}: exit {code} after {time.perf_counter() - start:.0f} s\n", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
