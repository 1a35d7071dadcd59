"""Who holds a lease, precisely enough to know when the holder is gone.

A lease (on an alert being sent, on an outlet being crawled) names its holder as

    h2|<hostname>|<machine id>|<boot id>|<pid>|<process start ticks>|<random>

A holder is *provably gone* when
- it ran on this machine (same machine id) in an earlier boot (another boot id), or
- it ran in this boot on this host (same boot id and hostname) and its PID is not running, or
  is running but started at another moment (the PID was reused: a restarted container's
  daemon is PID 1 again).
Anything else (another machine, another container on this kernel) cannot be checked from here:
its lease is respected until it runs out, which the sender bounds by its send timeout.

Leases written by release 0.1 (`host:pid:random`) are read with that release's rule: same host
name and the PID is not running.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_PREFIX = "h2"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return ""


@cache
def machine_id() -> str:
    return _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id") or "-"


def boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id") or "-"


def start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None
    when no such process runs."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class Holder:
    hostname: str
    machine: str
    boot: str
    pid: int
    started: str
    token: str  # the lease owner string

    def sees_gone(self, owner: str | None) -> bool:
        """True when the holder named by `owner` is provably not running any more."""
        if not owner:
            return True
        parts = owner.split("|")
        if parts[0] != _PREFIX or len(parts) != 7:
            return self._legacy_gone(owner)
        _, host, machine, boot, pid, started, _ = parts
        if machine == self.machine and machine != "-" and boot != self.boot:
            return True  # this machine has rebooted since
        if boot != self.boot or host != self.hostname or not pid.isdigit():
            return False  # another machine or container: cannot tell, the lease runs out
        return start_ticks(int(pid)) != started

    def _legacy_gone(self, owner: str) -> bool:
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if host != self.hostname or not pid.isdigit():
            return False
        return start_ticks(int(pid)) is None


def this_holder() -> Holder:
    """This process, with a fresh random part (each store connection is its own holder)."""
    host, machine, boot, pid = socket.gethostname(), machine_id(), boot_id(), os.getpid()
    started = start_ticks(pid) or "-"
    token = "|".join([_PREFIX, host, machine, boot, str(pid), started, secrets.token_hex(4)])
    return Holder(host, machine, boot, pid, started, token)
