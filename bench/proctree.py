"""CPU seconds of a process and all its descendants, read from /proc while they run.

RUSAGE_CHILDREN misses grandchildren that their parent never waits for (the extraction pool's
workers are children of multiprocessing's fork server), so the tree is sampled instead.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # after the command: state ppid ... utime(12) stime(13) cutime cstime
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


class TreeCPU:
    """Samples every process under `root` until stopped; `seconds` is their summed CPU time."""

    def __init__(self, root: int, every: float = 0.05) -> None:
        self.root, self.every = root, every
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self) -> None:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (st := _stat(int(entry))):
                stats[int(entry)] = st
        tree = {self.root}
        changed = True
        while changed:
            changed = False
            for pid, (ppid, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    changed = True
        for pid in tree:
            if pid in stats:
                self.last[pid] = stats[pid][1]

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.seconds

    @property
    def seconds(self) -> float:
        return sum(self.last.values())


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Run a command; its wall seconds, its process tree's CPU seconds, and its stderr.
    Exits with the stderr's tail if the command fails."""
    import subprocess
    import sys
    import time

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    tree = TreeCPU(proc.pid)
    _, err = proc.communicate()
    wall, cpu = time.perf_counter() - t0, tree.stop()
    if proc.returncode:
        sys.exit(err[-3000:])
    return wall, cpu, err
