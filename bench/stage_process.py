"""Run one stage script in this process and print its wall time and peak memory, for bench/pipeline.py.

Peak RSS comes from /proc/self/status VmHWM (this process's own high-water mark), not getrusage: ru_maxrss of a
process started by fork + exec also counts what its parent held when it forked, which made every stage look as
big as the benchmark that launched it. Worker processes (filter and clean's pool) are polled the same way every
0.1 s; the largest VmHWM seen is reported (a peak reached in a worker's last 0.1 s can be missed).

**Usage:** `python -m bench.stage_process scripts/filter_dataset.py --dataset-dir DIR [flags]`; the last stdout line
is `BENCH {"rc", "s", "rss_mb", "worker_rss_mb"}`.
"""

import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path


def vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process in MB (0 when it is gone or the field is missing)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children_of(pid: int) -> list[int]:
    """Direct children of `pid` (from /proc/<pid>/task/*/children)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def main() -> int:
    script, sys.argv = sys.argv[1], sys.argv[1:]
    worker_peak, done = [0.0], threading.Event()

    def poll() -> None:
        while not done.wait(0.1):
            for child in children_of(os.getpid()):
                worker_peak[0] = max(worker_peak[0], vm_hwm_mb(child))

    threading.Thread(target=poll, daemon=True).start()
    start, code = time.monotonic(), 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = e.code or 0
    done.set()
    print("BENCH", json.dumps({"rc": code, "s": time.monotonic() - start, "rss_mb": vm_hwm_mb(),
                               "worker_rss_mb": worker_peak[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
