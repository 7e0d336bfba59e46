"""CPU time from /proc: of one process, of processes by name, of the whole machine.

Standard library only, so that a benchmark worker whose memory is measured
(`bench/followup/worker.py`) can use it without growing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc (0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def named_processes_cpu_seconds(comm: str, cmdline_contains: str = "") -> float:
    """CPU time so far of this machine's processes named `comm` (`/proc/PID/comm`) whose command
    line contains `cmdline_contains`. Processes that exited meanwhile are not counted."""
    total = 0.0
    with contextlib.suppress(OSError):
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if (proc / "comm").read_text().strip() != comm:
                    continue
                if cmdline_contains and cmdline_contains not in (proc / "cmdline").read_text(
                    errors="replace"
                ):
                    continue
            except OSError:
                continue
            total += process_cpu_seconds(int(proc.name))
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (`cpu` line of /proc/stat; 0 elsewhere)."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
