"""Who holds a lease, precisely enough to know when the holder is gone.

A lease (on an alert being sent, on an outlet being crawled) names its holder as

    h2|<hostname>|<machine id>|<boot id>|<pid namespace>|<pid>|<process start ticks>|<random>

A holder is *provably gone* when
- it ran on this machine (same machine id and hostname) in another boot: a machine runs one
  boot at a time, so that process died when the machine went down; or
- it ran in this boot in this PID namespace (the same kernel and the same table of PIDs, so its
  PID means the same process here) and that PID is not running, or is running but started at
  another moment (the PID was reused).
Anything else cannot be checked from here and its lease is respected until it runs out; the
holder renews it while it is sending (`Outbox.renew`), so it runs out only once the holder has
stopped. That covers another machine, and another container on this kernel: containers share
the boot id, and often the hostname (host networking) and an image's machine id, but each has
its own PID namespace, where PID 1 is a different process. A container restarted with a new PID
namespace therefore waits for its predecessor's leases to run out (`LEASE` in
`balkanwatch.delivery.alerts`), rather than risk taking one from a live neighbour.

Why the hostname and machine id together for "another boot": a machine id baked into a
container image is shared by that image's containers on every host, so on its own it does not
name one machine.

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
_FIELDS = 8


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


@cache
def machine_id() -> str:
    return _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id") or "-"


def boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id") or "-"


def pid_namespace() -> str:
    """This process's PID namespace, e.g. 'pid:[4026531836]'; '-' where /proc cannot say."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


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
    pidns: str
    pid: int
    started: str
    nonce: str

    @property
    def token(self) -> str:
        """The lease owner string stored in the row."""
        fields = [self.hostname, self.machine, self.boot, self.pidns]
        fields += [str(self.pid), self.started, self.nonce]
        return "|".join([_PREFIX, *(f.replace("|", "/") for f in fields)])

    @classmethod
    def parse(cls, owner: str) -> Holder | None:
        parts = owner.split("|")
        if parts[0] != _PREFIX or len(parts) != _FIELDS or not parts[5].isdigit():
            return None
        host, machine, boot, pidns, pid, started, nonce = parts[1:]
        return cls(host, machine, boot, pidns, int(pid), started, nonce)

    def sees_gone(self, owner: str | None) -> bool:
        """True when the holder named by `owner` is provably not running any more."""
        if not owner:
            return True
        other = Holder.parse(owner)
        if other is None:
            return self._legacy_gone(owner)
        if "-" in (self.boot, other.boot):
            return False  # no /proc here or there: nothing to compare
        same_machine = (other.machine, other.hostname) == (self.machine, self.hostname)
        if same_machine and self.machine != "-" and other.boot != self.boot:
            return True  # this machine has rebooted since
        if other.boot != self.boot or other.pidns != self.pidns or self.pidns == "-":
            return False  # another machine or container: cannot tell, the lease runs out
        return start_ticks(other.pid) != other.started

    def _legacy_gone(self, owner: str) -> bool:
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if host != self.hostname or not pid.isdigit():
            return False
        return start_ticks(int(pid)) is None


def this_holder() -> Holder:
    """This process, with a fresh random part (each store connection is its own holder)."""
    pid = os.getpid()
    return Holder(
        hostname=socket.gethostname(),
        machine=machine_id(),
        boot=boot_id(),
        pidns=pid_namespace(),
        pid=pid,
        started=start_ticks(pid) or "-",
        nonce=secrets.token_hex(4),
    )
