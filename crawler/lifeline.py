"""A crawl started by the daemon ends with the daemon.

The daemon starts each child crawl in a session of its own (so that the child's extraction
workers go with it, whatever ends it), which also means a `kill -9` of the daemon, or the OOM
killer choosing it, would leave the child running as an orphan: a restarted daemon would then
crawl and deliver beside it, and the orphan's leases would keep its alerts from the restart
until they expired. On Linux the kernel ends the child when its parent dies (PR_SET_PDEATHSIG);
SIGKILL, as for the daemon, so that a restart finds every holder provably dead and takes over
at once. Elsewhere nothing changes (the leases still run out). The kernel watches the thread that
started the child: the daemon starts its children from its event loop, in its main thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

SUPERVISOR_ENV = "BALKANWATCH_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1


def die_with_supervisor() -> None:
    """When the daemon named in the environment started this process, end with it."""
    expected = os.environ.get(SUPERVISOR_ENV, "")
    if not expected.isdigit() or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        tied = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):  # an unusual libc: the crawl runs, untied
        tied = False
    if not tied:
        log.warning("could not tie the crawl to the daemon: it may outlive a killed daemon")
        return
    # The daemon may have died between starting us and the call above: then no signal comes.
    if os.getppid() != int(expected):
        os._exit(1)
