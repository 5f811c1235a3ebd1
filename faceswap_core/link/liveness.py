"""How each side knows the other is alive, on each side's own clock.

- The worker bumps a counter (`heartbeat`) from a thread of its own; the filter calls a
  worker hung when the counter has not changed for N seconds of the filter's clock. No
  one subtracts one process's clock from another's: on Windows, Python up to 3.12 reads
  monotonic time from GetTickCount64 and 3.13 from QueryPerformanceCounter, and a worker
  on another Python (or in another sandbox) may read either.
- The worker knows OBS is gone when its stdin (a pipe from OBS, inherited on every
  system, forwarded by flatpak-spawn) reaches end of file, or OBS's process is gone.
"""

from __future__ import annotations

import os
import time

from . import system as systems

STILL_ACTIVE = 259                           # GetExitCodeProcess of a running process
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
SYNCHRONIZE = 0x00100000
WAIT_TIMEOUT = 0x102

try:
    import _winapi
except ImportError:   # not Windows
    _winapi = None


def clock_for(system: str):
    """This process's clock for intervals: QueryPerformanceCounter on Windows on every
    Python (monotonic_ns is GetTickCount64 there up to 3.12: 15.6 ms steps)."""
    return time.perf_counter_ns if system == systems.WINDOWS else time.monotonic_ns


now_ns = clock_for(systems.CURRENT)


def pid_alive(pid: int, system: str = systems.CURRENT, winapi=None) -> bool:
    """Whether process `pid` runs (a zombie does not)."""
    if pid <= 0:
        return False
    if system == systems.WINDOWS:
        return _windows_pid_alive(pid, winapi or _winapi)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # Linux: a crashed owner stays a zombie until its parent reaps it
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _windows_pid_alive(pid: int, winapi) -> bool:
    """os.kill cannot probe a process on Windows (it terminates it): open it and ask for
    its exit code. A process that cannot be opened because of rights still exists."""
    try:
        handle = winapi.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, False, pid)
    except PermissionError:
        return True
    except OSError:        # ERROR_INVALID_PARAMETER: no such process
        return False
    try:
        if winapi.WaitForSingleObject(handle, 0) != WAIT_TIMEOUT:
            return False   # signalled: it exited (its exit code may even be 259)
        return winapi.GetExitCodeProcess(handle) == STILL_ACTIVE
    finally:
        winapi.CloseHandle(handle)


class ChangeWatch:
    """How long a value has stood still, on the observer's clock.

    The worker's heartbeat is such a value: a counter; this is what tells a running
    worker from a stopped, frozen or deadlocked one without reading the worker's clock.
    """

    def __init__(self, value: int, now: int):
        self.value = value
        self.changed_at = now

    def still_for_ns(self, value: int, now: int) -> int:
        if value != self.value:
            self.value, self.changed_at = value, now
        return now - self.changed_at
