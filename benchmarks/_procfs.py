"""Reading a server process's resources from Linux ``/proc``: shared by the benchmarks.

Import it from a script in this folder (``from _procfs import ...``); the scripts run as
``python benchmarks/NAME.py``, which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Final

__all__ = ["TCP_STATES", "close_wait_on", "cpu_seconds", "fd_count", "rss_kib", "tcp_states"]

#: ``st`` column of ``/proc/net/tcp`` -> state name.
TCP_STATES: Final = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def rss_kib(pid: int) -> int:
    """Resident set size of *pid* in KiB (``VmRSS``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])  # "VmRSS:     23456 kB"
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def fd_count(pid: int) -> int:
    """Open file descriptors of *pid*."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of *pid* (``/proc/PID/stat`` fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tcp_states(port: int) -> Counter[str]:
    """TCP states of the sockets whose local port is *port*, from ``/proc/net/tcp{,6}``.

    The kernel writes these files a page at a time, resuming by position: while the socket
    table changes, a line may appear twice (removed here: a connection's two addresses
    identify it) or be skipped (so callers look more than once).
    """
    seen: set[tuple[str, str, str]] = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()  # sl local_address rem_address st ...
            if len(fields) >= 4 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                seen.add((fields[1], fields[2], TCP_STATES.get(fields[3].upper(), fields[3])))
    return Counter(state for _, _, state in seen)


def close_wait_on(port: int) -> int:
    """Sockets on *port* in CLOSE_WAIT: the worst of three looks (a look may skip a line)."""
    worst = 0
    for _ in range(3):
        worst = max(worst, tcp_states(port)["CLOSE_WAIT"])
        time.sleep(0.01)
    return worst
