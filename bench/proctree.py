"""CPU seconds and memory of a process and all its descendants, read from /proc while they run.

RUSAGE_CHILDREN misses grandchildren that their parent never waits for (the extraction pool's
workers are children of multiprocessing's fork server), so the tree is sampled instead.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds, resident bytes) of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # after the command: state ppid ... utime(12) stime(13) cutime cstime ... rss(22)
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, int(fields[21]) * PAGE


@dataclass
class TreeSample:
    at: float  # seconds since the sampler started
    rss: int  # bytes resident in the whole tree
    root_rss: int  # bytes resident in the root process alone


@dataclass
class TreeCPU:
    """Samples every process under `root` until stopped; `seconds` is their summed CPU time,
    `samples` the tree's resident memory over time, `peak_rss` its largest sum."""

    root: int
    every: float = 0.05
    last: dict[int, float] = field(default_factory=dict)
    samples: list[TreeSample] = field(default_factory=list)
    peak_by_pid: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._t0 = time.perf_counter()
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
            for pid, (ppid, _, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    changed = True
        rss = 0
        for pid in tree:
            if pid in stats:
                self.last[pid] = stats[pid][1]
                rss += stats[pid][2]
                self.peak_by_pid[pid] = max(self.peak_by_pid.get(pid, 0), stats[pid][2])
        root_rss = stats[self.root][2] if self.root in stats else 0
        self.samples.append(TreeSample(time.perf_counter() - self._t0, rss, root_rss))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.seconds

    @property
    def seconds(self) -> float:
        return sum(self.last.values())

    @property
    def peak_rss(self) -> int:
        return max((s.rss for s in self.samples), default=0)

    def rss_at(self, fraction: float) -> int:
        """The tree's resident bytes at this fraction of the run (0.5: half way)."""
        if not self.samples:
            return 0
        return self.samples[min(len(self.samples) - 1, int(fraction * len(self.samples)))].rss


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Run a command; its wall seconds, its process tree's CPU seconds, and its stderr.
    Exits with the stderr's tail if the command fails."""
    wall, tree, err = run_tree(cmd, env, cwd)
    return wall, tree.seconds, err


def run_tree(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, TreeCPU, str]:
    """Run a command; its wall seconds, the sampler of its process tree, and its stderr."""
    import subprocess
    import sys

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    tree = TreeCPU(proc.pid)
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    tree.stop()
    if proc.returncode:
        sys.exit(err[-3000:])
    return wall, tree, err
