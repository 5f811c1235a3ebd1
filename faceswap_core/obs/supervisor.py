"""Starts, watches and restarts one filter's worker process; owns its channel.

One thread per filter instance, waiting on the worker almost all the time (no libobs
calls): when the worker dies it flips `worker_up` at once, so the very next
video_render draws the original frame, then restarts the worker with back-off.

It also notices a worker that is alive but not working (stopped with SIGSTOP, frozen, or
stuck on one frame): its heartbeat (a counter bumped every 0.1 s by a thread of its own)
stands still for HANG_S of our own clock, or one frame stays unanswered for
FRAME_HANG_S. Such a worker is treated like a dead one: originals at once, then killed
and replaced. How a worker is started on each system is link.launch's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time

from .. import link
from ..link import launch, layout, liveness
from ..link import system as systems
from ..link.launch import PROJECT_ROOT

MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0
STABLE_AFTER_S = 10.0      # a worker that ran this long resets the back-off
STOP_GRACE_S = 1.0         # then SIGKILL: the worker has nothing to save
DEFAULT_CAPACITY = (1920, 1080)
WATCH_EVERY_S = 0.1        # how often a running worker's heartbeat is looked at
HANG_S = 1.5               # no heartbeat this long: the worker is hung
START_HANG_S = 60.0        # while it starts or loads an engine (imports, CUDA) it may take longer
FRAME_HANG_S = 15.0        # one frame unanswered this long: stuck inside the engine
STACKS_WAIT_S = 0.3        # for a hung worker to print its stacks before it is killed
HOST_KILL_WAIT_S = 2.0     # Flatpak: flatpak-spawn --host kill, answered by the portal
STDERR_KEPT = 16384        # bytes of the worker's stderr read back (the stacks fit)


class WorkerSupervisor:
    """The worker's lifetime; `channel` and `worker_up` are read by the render thread."""

    def __init__(self, settings: dict, log=None, system: str = systems.CURRENT):
        self._log = log or (lambda level, text: None)
        self.system = system
        self._settings = dict(settings)
        self._needed = DEFAULT_CAPACITY
        self.channel: link.Channel | None = link.Channel.create(*DEFAULT_CAPACITY, system=system)
        self.channel.write_settings(self._settings)
        self.worker_up = False
        self.last_error = ""
        self.start_note = ""       # about the worker's Python, for the status line (Rosetta)
        self.restarts = 0
        self.hangs = 0             # workers replaced because they stopped answering
        self.start_attempts = 0    # processes started or tried (tests: no retry storm)
        self.next_start_at = 0.0
        self._process: subprocess.Popen | None = None
        self._started_ns = 0
        self._heartbeat = liveness.ChangeWatch(0, 0)
        self._pending_seq, self._pending_since = 0, 0
        self._logged_note = ""
        self._stopping = threading.Event()
        self._restart = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()   # guards _process between the thread and stop()
        self._thread = threading.Thread(target=self._run, name="obs-faceswap-supervisor", daemon=True)
        self._thread.start()

    # -- called from OBS callbacks (UI or graphics thread); never block long -----------
    def publish_settings(self, settings: dict) -> None:
        """Hand new settings to the worker; a new interpreter means a new worker."""
        interpreter_changed = settings.get("python") != self._settings.get("python")
        self._settings = dict(settings)
        channel = self.channel
        if channel is not None and channel.mm is not None:
            channel.write_settings(self._settings)
        if interpreter_changed:
            self.restart()

    def need_frame_size(self, width: int, height: int) -> None:
        """The render thread saw frames bigger than the channel holds: grow it (restart)."""
        channel = self.channel
        if channel is not None and layout.slot_capacity_for(width, height) > channel.capacity:
            if self._needed != (width, height):
                self._needed = (width, height)
                self.restart()

    def restart(self) -> None:
        self._restart.set()
        self._kill_worker()
        self._wake.set()

    def stop(self) -> None:
        """End the worker and the thread and close the channel (removing its file); idempotent."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            process = self._process
        if process is not None:
            _close_stdin(process)       # the worker exits by itself on EOF
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._kill(process)
        self._thread.join(STOP_GRACE_S + 1.0)
        channel, self.channel = self.channel, None
        if channel is not None:
            channel.close(unlink=True)

    # -- the thread ------------------------------------------------------------------
    def _run(self) -> None:
        backoff = MIN_BACKOFF_S
        while not self._stopping.is_set():
            self._restart.clear()
            self._ensure_capacity()
            started = time.monotonic()
            process = self._start()
            if process is None:
                self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            code, hang = self._wait_or_hang(process)
            self.worker_up = False
            stderr = _read_stderr(process)
            stacks = _stacks(stderr) if hang else ""
            if stacks:
                self._log(300, f"worker {process.pid} was stuck here:\n{stacks}")
            stderr_tail = _last_line(stderr)
            with self._lock:
                self._process = None
            channel = self.channel
            # The worker's own words explain its exit only when it had reported an error;
            # its last status ("Choose a source photo ...") is no reason for a crash.
            reported = ""
            if channel is not None and channel.mm is not None:
                if channel.state() == link.STATE_ERROR:
                    reported = channel.error()
                channel.set_state(link.STATE_STOPPED)
            if self._stopping.is_set():
                break
            if self._restart.is_set():
                backoff = MIN_BACKOFF_S
                continue
            if time.monotonic() - started > STABLE_AFTER_S:
                backoff = MIN_BACKOFF_S
            self.last_error = hang or reported or _explain(stderr_tail) or f"The worker stopped (exit code {code})."
            self._log(200, f"worker exited with code {code}; restarting in {backoff:.1f} s: {self.last_error}")
            self.restarts += 1
            self._sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _wait_or_hang(self, process: subprocess.Popen) -> tuple[int, str]:
        """(exit code, why we killed it or ''): a hung worker is declared down, then killed."""
        while True:
            try:
                return process.wait(WATCH_EVERY_S), ""
            except subprocess.TimeoutExpired:
                pass
            self._log_note()
            reason = self._hang_reason()
            if reason and not self._stopping.is_set():
                self.last_error = reason        # for the status line until a new worker runs
                self.worker_up = False          # the next frame shows the original
                self.hangs += 1
                self._log(200, f"worker {process.pid}: {reason.rstrip('.')}; killing it ({self._describe(process)})")
                _ask_for_stacks(process, self._log)
                self._kill(process, wait=True)
                return process.wait(), reason

    def _log_note(self) -> None:
        """The worker's note (what runs: engine, provider, precision; a fallback it took; how
        the source was made) into OBS's log whenever it changes: support reads the log."""
        try:
            channel = self.channel
            note = channel.note() if channel is not None and channel.mm is not None else ""
        except (ValueError, TypeError):   # closed under us
            return
        if note and note != self._logged_note:
            self._logged_note = note
            self._log(300, f"worker: {note}")   # LOG_INFO

    def _describe(self, process: subprocess.Popen) -> str:
        """What the channel and the kernel say about a worker declared hung, for the log."""
        parts = []
        channel = self.channel
        try:
            beat, state = channel.heartbeat(), channel.state()
            now = liveness.now_ns()
            parts.append(f"channel: {link.STATE_NAMES.get(state, state)}, "
                         + (f"heartbeat still for {self._heartbeat.still_for_ns(beat, now) / 1e9:.1f} s"
                            if beat else "no heartbeat")
                         + f", started {(now - self._started_ns) / 1e9:.1f} s ago")
        except (AttributeError, ValueError, TypeError):   # closed under us
            pass
        kernel = _kernel_view(process.pid)
        if kernel:
            parts.append(f"kernel: {kernel}")
        return "; ".join(parts)

    def _hang_reason(self) -> str:
        """Why the running worker counts as hung, or '' while it is fine."""
        try:
            return self._check_progress(self.channel)
        except (ValueError, TypeError):   # the channel was closed under us (stop, resize)
            return ""

    def _check_progress(self, channel) -> str:
        if channel is None or channel.mm is None:
            return ""
        now = liveness.now_ns()
        beat = channel.heartbeat()
        state = channel.state()
        still_ns = self._heartbeat.still_for_ns(beat, now)
        if not beat:    # not one beat yet: the process has not reached our code
            if now - self._started_ns > START_HANG_S * 1e9:
                return f"The worker did not start within {START_HANG_S:.0f} s and was replaced."
            return ""
        patience = START_HANG_S if state == link.STATE_STARTING else HANG_S
        if still_ns > patience * 1e9:
            return f"The worker stopped responding for {patience:.1f} s and was replaced."
        pending = channel.pending_frame_seq()
        if pending is not None and state == link.STATE_RUNNING:
            if pending != self._pending_seq:
                self._pending_seq, self._pending_since = pending, now
            elif now - self._pending_since > FRAME_HANG_S * 1e9:
                return f"The worker spent over {FRAME_HANG_S:.0f} s on one frame and was replaced."
        return ""

    def _sleep(self, seconds: float) -> None:
        self.next_start_at = time.monotonic() + seconds
        self._wake.clear()
        self._wake.wait(seconds)
        self.next_start_at = 0.0

    def _ensure_capacity(self) -> None:
        """Replace the channel by a bigger one when frames outgrew it (no worker runs now)."""
        channel = self.channel
        if channel is not None and layout.slot_capacity_for(*self._needed) <= channel.capacity:
            return
        width = max(self._needed[0], DEFAULT_CAPACITY[0])
        height = max(self._needed[1], DEFAULT_CAPACITY[1])
        bigger = link.Channel.create(width, height, system=self.system)
        bigger.write_settings(self._settings)
        self.channel = bigger
        if channel is not None:
            channel.close(unlink=True)   # the render thread keeps its own mapping until it rebinds

    def _start(self) -> subprocess.Popen | None:
        channel = self.channel
        if channel is None:
            return None
        interpreter = self._settings.get("python") or launch.worker_interpreter(self.system)
        problem = launch.interpreter_problem(interpreter, self.system)
        if problem:
            return self._not_started(problem)
        note = launch.interpreter_note(interpreter, self.system)
        if note and note != self.start_note:
            self._log(200, note)
        self.start_note = note
        channel.prepare_for_worker()
        self._started_ns = liveness.now_ns()
        self._heartbeat = liveness.ChangeWatch(0, self._started_ns)
        self._pending_seq, self._pending_since = channel.pending_frame_seq(), self._started_ns
        self.start_attempts += 1
        command, options = launch.worker_command(self.system, interpreter, channel.address, channel.token,
                                                 os.getpid(), channel.pass_fds, PROJECT_ROOT)
        try:
            stderr = tempfile.TemporaryFile()
        except OSError:
            stderr = subprocess.DEVNULL
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr, cwd=PROJECT_ROOT,
                env=launch.worker_environment(self.system, dict(os.environ), PROJECT_ROOT), close_fds=True,
                **options)
        except OSError as error:
            return self._not_started(launch.start_failure(interpreter, error, self.system))
        process._faceswap_stderr = stderr   # read back after exit for the status line
        with self._lock:
            self._process = process
        if self._stopping.is_set():
            self._kill_worker()
        self.last_error = ""                # before worker_up: no reader sees the new worker with the old error
        self.worker_up = True
        threading.Thread(target=self._down_on_exit, args=(process,), name="faceswap-worker-exit",
                         daemon=True).start()
        self._log(300, f"worker {process.pid} started with {interpreter}")
        return process

    def _not_started(self, reason: str) -> None:
        self.last_error = reason
        channel = self.channel
        if channel is not None:
            channel.set_state(link.STATE_STOPPED)
        self._log(100, reason)
        return None

    def _down_on_exit(self, process: subprocess.Popen) -> None:
        """Block in wait() so a death reaches the render thread at once: the supervising
        loop looks at the worker only every WATCH_EVERY_S (for hangs), which is more than
        a frame."""
        process.wait()
        with self._lock:
            if self._process is process:
                self.worker_up = False

    def _kill_worker(self) -> None:
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            _close_stdin(process)   # a worker that killing cannot reach (Flatpak: on the host) ends on EOF
            self._kill(process)

    def _kill(self, process: subprocess.Popen, wait: bool = False) -> None:
        """Kill our child and, where the worker is not our child (Flatpak: a host process
        behind flatpak-spawn), the worker itself: a hung one ignores EOF and SIGINT. `wait`
        (the supervising thread only; OBS's threads never wait): until the kill is done,
        so no replacement attaches to the channel while the hung worker lives."""
        channel = self.channel
        try:
            pid = channel.worker_pid() if channel is not None and channel.mm is not None else 0
        except (ValueError, TypeError):   # closed under us
            pid = 0
        command = launch.host_kill_command(self.system, pid)
        if command is not None:
            try:
                killer = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
                if wait:
                    killer.wait(HOST_KILL_WAIT_S)
            except (OSError, subprocess.SubprocessError) as error:
                self._log(200, f"could not kill worker {pid} on the host: {error}")
        try:
            process.kill()
        except OSError:
            pass

    def worker_pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None


def _explain(stderr_tail: str) -> str:
    """The worker's last words, with the fix when they say its Python lacks our packages."""
    if "No module named" in stderr_tail:
        return f"{stderr_tail} (this Worker Python lacks obs-faceswap: run the installer, or set Worker Python)"
    return stderr_tail


def _close_stdin(process: subprocess.Popen) -> None:
    try:
        if process.stdin is not None:
            process.stdin.close()
    except OSError:
        pass


def _read_stderr(process: subprocess.Popen) -> str:
    """The end of what the worker printed to stderr (an import error, a traceback, stacks)."""
    _close_stdin(process)
    stream = getattr(process, "_faceswap_stderr", None)
    if stream is None or stream is subprocess.DEVNULL:
        return ""
    try:
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(max(0, size - STDERR_KEPT))
        return stream.read().decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        stream.close()


def _last_line(text: str) -> str:
    """The worker's last words, for the status line (an exception's gist comes last)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _stacks(text: str) -> str:
    """The thread stacks faulthandler printed on SIGUSR1, from their first header on."""
    starts = [text.find(marker) for marker in ("Thread 0x", "Current thread 0x")]
    starts = [start for start in starts if start >= 0]
    return text[min(starts):].strip() if starts else ""


def _ask_for_stacks(process: subprocess.Popen, log) -> None:
    """POSIX: SIGUSR1 makes a worker that runs Python write every thread's stack to its
    stderr (faulthandler, which needs no GIL, so a deadlock answers too). One that does
    not run our code yet dies of it, which is what is about to happen anyway. Windows
    has no such signal: there the worker's own watchdog wrote its stacks when its
    heartbeat stopped (worker.Heartbeat with its watchdog), unless the whole process stood still."""
    if not hasattr(signal, "SIGUSR1"):
        log(300, f"worker {process.pid}: no signal asks for stacks on this system; its own watchdog "
                 "wrote them if its threads stopped while the process ran")
        return
    try:
        os.kill(process.pid, signal.SIGUSR1)
    except OSError:
        return
    try:
        process.wait(STACKS_WAIT_S)
    except subprocess.TimeoutExpired:
        pass


def _kernel_view(pid: int) -> str:
    """Linux: what the kernel says a stuck process is doing (state, the kernel function it
    waits in, its command line, to tell a process that never reached exec); else ''."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            state = next((line.split(":", 1)[1].strip() for line in status if line.startswith("State:")), "?")
        with open(f"/proc/{pid}/wchan", encoding="utf-8") as wchan:
            waiting = wchan.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f"state {state}, waiting in {waiting if waiting not in ('', '0') else 'user space'}, running {command[:160]}"
