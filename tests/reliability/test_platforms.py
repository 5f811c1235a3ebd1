"""The link on the systems this machine is not: macOS, Windows and Flatpak branches, run here.

What is real and what is simulated, test by test:
- macOS's POSIX shared memory is real (Linux has shm_open too); only the macOS rule that
  an unsealed descriptor is acceptable is exercised by passing system=MACOS.
- Windows's named mappings do not exist here: `memory._named_mapping` is replaced by a
  stand-in keyed by name (one memfd per name, as one section per name on Windows), and
  `_winapi` by a stand-in with OpenProcess/WaitForSingleObject/GetExitCodeProcess.
- Flatpak's flatpak-spawn is a script that runs the worker in a new PID namespace
  (unshare), which is what makes the sandbox's pids meaningless to the worker.
- Clocks that differ between OBS and its worker are real: the worker's clocks are
  shifted by an hour in its own process.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from faceswap_core import link
from faceswap_core.link import launch, layout, liveness, memory
from faceswap_core.link import system as systems
from faceswap_core.obs import supervisor as supervision
from faceswap_core.obs.supervisor import WorkerSupervisor
from testkit.faulty_worker import make_faulty_python
from testkit.worker_channel import wait_until

from testkit import helpers, platform_sims

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def our_files() -> list[str]:
    """Channel files of this process in the places earlier versions put them."""
    prefix = f"{memory.FILE_PREFIX}{os.getpid()}-"
    return [name for directory in ("/dev/shm", tempfile.gettempdir()) if os.path.isdir(directory)
            for name in os.listdir(directory) if name.startswith(prefix)]


def round_trip(owner: link.Channel, guest: link.Channel) -> None:
    """One frame handed over by the owner and answered by the guest, through the Exchange."""
    owner.mm[owner.in_offset:owner.in_offset + 16] = bytes(range(16))
    owner.exchange.hand_over(2, 2, 8, 12345)
    frame = guest.exchange.take_frame()
    assert frame == link.Frame(1, 2, 2, 8, 12345)
    slot = guest.exchange.claim_output()
    out = guest.output_offset(slot)
    guest.mm[out:out + 16] = bytes(guest.mm[guest.in_offset:guest.in_offset + 16])[::-1]
    guest.exchange.publish_result(frame, 8, 1, 900)
    with owner.exchange.newest_result(0) as result:
        assert result == link.Frame(1, 2, 2, 8, 12345, slot=slot) and owner.worker_free()
        out = owner.output_offset(result.slot)
        assert bytes(owner.mm[out:out + 16]) == bytes(range(16))[::-1]
    with owner.exchange.newest_result(result.seq) as again:
        assert again is None


# -- shared memory per system ----------------------------------------------------------------------
def test_systems_are_told_apart(tmp_path):
    assert systems.detect("win32") == systems.WINDOWS
    assert systems.detect("darwin") == systems.MACOS
    assert systems.detect("linux", flatpak_info=str(tmp_path / "absent")) == systems.LINUX
    (tmp_path / ".flatpak-info").write_text("[Application]\nname=com.obsproject.Studio\n")
    assert systems.detect("linux", flatpak_info=str(tmp_path / ".flatpak-info")) == systems.FLATPAK
    assert memory.kind_for(systems.WINDOWS) == memory.NAMED_MAPPING
    assert memory.kind_for(systems.MACOS) == memory.POSIX_SHM
    if memory.memfd_supported():
        assert memory.kind_for(systems.LINUX) == memory.kind_for(systems.FLATPAK) == memory.MEMFD


def test_macos_channel_is_posix_shared_memory_with_no_name_left():
    """No /dev/shm on macOS, and $TMPDIR is a disk: shm_open, unlinked at once, the
    descriptor inherited. Real POSIX shared memory (Linux has it too)."""
    before = set(os.listdir("/dev/shm"))
    owner = link.Channel.create(64, 48, system=systems.MACOS)
    try:
        (fd,) = owner.pass_fds
        assert owner.address == f"fd:{fd}" and owner.path is None
        target = os.readlink(f"/proc/self/fd/{fd}")
        assert target.startswith(f"/dev/shm{memory.SHM_PREFIX}") and target.endswith("(deleted)"), target
        assert set(os.listdir("/dev/shm")) == before and our_files() == [], "a name was left behind"
        assert not os.get_inheritable(fd), "inherited only when passed on purpose"
        passed = os.dup(fd)
        guest = link.Channel.attach(f"fd:{passed}", system=systems.MACOS)
        try:
            round_trip(owner, guest)
        finally:
            guest.close()
        with pytest.raises(link.ChannelError, match="not sealed against shrinking"):
            link.Channel.attach(f"fd:{os.dup(fd)}", system=systems.LINUX)   # Linux insists on seals
    finally:
        owner.close()


class WindowsSections:
    """Stand-in for CreateFileMapping(INVALID_HANDLE_VALUE, ..., name) + MapViewOfFile,
    which mmap.mmap(-1, size, tagname=name) calls on Windows: one section per name,
    created by the first opener (zero-filled), mapped again by later ones."""

    def __init__(self):
        self.sections: dict[str, int] = {}

    def __call__(self, size: int, name: str) -> mmap.mmap:
        fd = self.sections.get(name)
        if fd is None:
            fd = self.sections[name] = os.memfd_create("section")
            os.ftruncate(fd, size)
        elif os.fstat(fd).st_size < size:
            raise OSError(errno.EACCES, "view larger than the section")
        return mmap.mmap(fd, size)

    def close(self):
        for fd in self.sections.values():
            os.close(fd)


@pytest.fixture
def windows_sections(monkeypatch):
    if not memory.memfd_supported():
        pytest.skip("the stand-in for Windows sections uses memfds")
    sections = WindowsSections()
    monkeypatch.setattr(memory, "_named_mapping", sections)
    yield sections
    sections.close()


def test_windows_channel_is_a_named_mapping_that_leaves_no_file(windows_sections, monkeypatch):
    """Before the link a Windows channel was a file in %TEMP% that could not be deleted while
    mapped (left for ever by every race and crash). Now nothing on disk: deleting anything
    is refused here, as Windows refuses it for a mapped file, and nothing needs deleting."""
    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "The process cannot access the file", path)

    monkeypatch.setattr(os, "unlink", refuse)
    monkeypatch.setattr(os, "remove", refuse)
    owner = link.Channel.create(64, 48, system=systems.WINDOWS)
    try:
        size_text, _, name = owner.address[len(memory.MAP_PREFIX):].partition(":")
        assert owner.address.startswith(memory.MAP_PREFIX) and int(size_text) == layout.size_for(owner.capacity)
        assert name.startswith("Local\\obs-faceswap-") and len(name.rsplit("-", 1)[1]) == 32   # 128 random bits
        assert owner.pass_fds == () and owner.path is None and our_files() == []
        guest = link.Channel.attach(owner.address, system=systems.WINDOWS)
        try:
            owner.write_settings({"opacity": 0.25})
            assert guest.read_settings()[1] == {"opacity": 0.25} and guest.token == owner.token
            round_trip(owner, guest)
        finally:
            guest.close()
        other = link.Channel.create(64, 48, system=systems.WINDOWS)
        assert other.address != owner.address
        other.close()
    finally:
        owner.close()
    assert our_files() == []


def test_a_file_channel_is_unmapped_before_it_is_removed_as_windows_needs(tmp_path, monkeypatch):
    """Windows cannot delete a file that is open or mapped: a channel in a named folder
    (tests, diagnosis) must close its mapping and descriptor before it removes the file,
    or the file stays for good. The simulation refuses what Windows refuses."""
    platform_sims.files_undeletable_while_open(monkeypatch)
    owner = link.Channel.create(64, 48, directory=str(tmp_path))
    path = owner.path
    with pytest.raises(PermissionError):
        os.unlink(path)                      # mapped: Windows says no
    owner.close(unlink=True)
    assert not os.path.exists(path)


def test_windows_worker_refuses_a_mapping_nobody_made(windows_sections):
    """A name nobody created opens as a fresh zero-filled section on Windows: no magic."""
    size = layout.size_for(layout.slot_capacity_for(8, 8))
    with pytest.raises(link.ChannelError, match="bad magic"):
        link.Channel.attach(f"map:{size}:Local\\obs-faceswap-{'0' * 32}", system=systems.WINDOWS)
    for address in ("map:12:Global\\x", "map:x:Local\\y", "map:"):
        with pytest.raises(link.ChannelError, match="not a named mapping"):
            link.Channel.attach(address, system=systems.WINDOWS)


@pytest.mark.parametrize("width,height", [(1920, 1440), (1920, 1200), (2560, 1440), (3840, 2160), (1080, 1920)])
def test_macos_channel_whose_size_the_kernel_rounded_to_16_kib_pages(monkeypatch, width, height):
    """Apple Silicon: xnu rounds POSIX shared memory up to 16 KiB pages and fstat says so.
    Before, every source above 1080p restarted the worker for ever ("channel is N bytes;
    its header says M"). The rounding is simulated on real POSIX shared memory."""
    platform_sims.rounding_shared_memory_sizes(monkeypatch)
    least = supervision.DEFAULT_CAPACITY   # the supervisor's channel is at least 1080p each way
    owner = link.Channel.create(max(width, least[0]), max(height, least[1]), system=systems.MACOS)
    try:
        (fd,) = owner.pass_fds
        described = layout.size_for(owner.capacity)
        assert os.fstat(fd).st_size % platform_sims.APPLE_SILICON_PAGE == 0
        assert os.fstat(fd).st_size > described, "this size is not a whole number of 16 KiB pages: no rounding"
        guest = link.Channel.attach(f"fd:{os.dup(fd)}", system=systems.MACOS)
        try:
            assert guest.capacity == owner.capacity
            round_trip(owner, guest)
        finally:
            guest.close()
    finally:
        owner.close()


def test_a_channel_larger_than_any_page_rounding_is_still_refused(tmp_path):
    owner = link.Channel.create(64, 48, directory=str(tmp_path))
    try:
        os.truncate(owner.path, layout.size_for(owner.capacity) + layout.LARGEST_PAGE)
        with pytest.raises(link.ChannelError, match="its header says"):
            link.Channel.attach(owner.path)
    finally:
        owner.close()


# -- liveness across clocks and systems -------------------------------------------------------------
class FakeWinapi:
    """_winapi as Windows answers it for three processes: running, exited, another user's."""

    RUNNING, EXITED, DENIED = 100, 200, 300

    def __init__(self):
        self.open_handles = 0

    def OpenProcess(self, access, inherit, pid):
        if pid == self.DENIED:
            raise PermissionError(errno.EACCES, "Access is denied")
        if pid not in (self.RUNNING, self.EXITED):
            raise OSError(errno.EINVAL, "The parameter is incorrect")
        self.open_handles += 1
        return pid

    def WaitForSingleObject(self, handle, milliseconds):
        return liveness.WAIT_TIMEOUT if handle == self.RUNNING else 0

    def GetExitCodeProcess(self, handle):
        return liveness.STILL_ACTIVE if handle == self.RUNNING else 1

    def CloseHandle(self, handle):
        self.open_handles -= 1


def test_pid_alive_on_windows_asks_the_process_itself():
    """os.kill cannot probe a pid there; before the link every pid counted as alive, so
    nothing was ever cleaned up after a crash."""
    winapi = FakeWinapi()
    alive = {pid: liveness.pid_alive(pid, systems.WINDOWS, winapi) for pid in (100, 200, 300, 400)}
    assert alive == {100: True, 200: False, 300: True, 400: False}
    assert winapi.open_handles == 0, "a process handle was leaked"


def test_each_system_times_with_its_own_clock():
    assert liveness.clock_for(systems.WINDOWS) is time.perf_counter_ns   # QPC on every Python
    assert liveness.clock_for(systems.LINUX) is time.monotonic_ns
    assert liveness.clock_for(systems.MACOS) is time.monotonic_ns


def test_a_heartbeat_is_judged_by_change_on_the_observers_clock():
    watch = liveness.ChangeWatch(0, now=1_000)
    assert watch.still_for_ns(0, now=5_000) == 4_000
    assert watch.still_for_ns(7, now=6_000) == 0      # changed: counts from now
    assert watch.still_for_ns(7, now=9_000) == 3_000
    assert watch.still_for_ns(2, now=9_500) == 0      # any change counts, a wrap included


@pytest.mark.parametrize("offset_s", [-3600, 3600])
def test_a_worker_whose_clock_differs_is_not_taken_for_hung(tmp_path, offset_s):
    """Two Pythons on Windows read different clocks (3.12: GetTickCount64, 3.13: QPC); the
    worker here reads clocks an hour off OBS's. Before the link OBS subtracted the worker's
    heartbeat time from its own and replaced such a worker every 1.5 s."""
    python = make_faulty_python(tmp_path, f"clock-offset:{offset_s}")
    supervisor = WorkerSupervisor({"python": python, "source_photo": ""})
    try:
        wait_until(lambda: supervisor.worker_up and supervisor.channel.state() == link.STATE_NO_SOURCE,
                   what="the worker to run")
        pid = supervisor.worker_pid()
        time.sleep(3 * supervision.HANG_S)
        assert supervisor.hangs == 0 and supervisor.restarts == 0 and supervisor.worker_pid() == pid
        assert supervisor.worker_up, supervisor.last_error
    finally:
        supervisor.stop()


def test_a_frozen_worker_writes_its_stacks_without_being_asked(tmp_path):
    """Windows has no signal to ask a hung worker for its stacks: its own watchdog (a C
    thread) writes them when the heartbeat thread stops. Here the worker holds the GIL in
    a C call for 4 s, so no Python thread runs while the process does."""
    channel = link.Channel.create(64, 48)
    channel.write_settings({"source_photo": ""})
    python = make_faulty_python(tmp_path, "hold-gil:4")
    worker = subprocess.Popen([python, "-m", "faceswap_core.worker", "--channel", channel.address, "--token",
                               channel.token, "--owner-pid", str(os.getpid()), "--stack-watchdog"],
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, pass_fds=channel.pass_fds)
    try:
        wait_until(lambda: channel.state() == link.STATE_NO_SOURCE, what="the worker to run")
        beat = channel.heartbeat()
        time.sleep(2.5)
        assert channel.heartbeat() == beat, "the heartbeat went on: the fault did not freeze the worker"
    finally:
        worker.kill()
        stderr = worker.communicate(timeout=30)[1].decode()
        channel.close()
    assert "Thread 0x" in stderr or "Current thread 0x" in stderr, stderr
    assert "_hold_gil_in_c" in stderr and "apply_settings" in stderr, stderr


def test_where_no_signal_asks_for_stacks_the_log_says_so(monkeypatch):
    monkeypatch.delattr(signal, "SIGUSR1")
    logged = []
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    supervision._ask_for_stacks(process, lambda level, text: logged.append(text))
    assert len(logged) == 1 and "no signal asks for stacks on this system" in logged[0]


# -- starting the worker --------------------------------------------------------------------------
def test_worker_command_per_system():
    args = dict(interpreter="/venv/python", address="fd:7", token="ab" * 16, owner_pid=4242, pass_fds=(7,),
                project_root="/home/me/obs-faceswap")
    linux, options = launch.worker_command(systems.LINUX, **args)
    assert linux[:3] == ["/venv/python", "-m", "faceswap_core.worker"] and options == {"pass_fds": (7,)}
    assert linux[linux.index("--token") + 1] == "ab" * 16 and linux[linux.index("--owner-pid") + 1] == "4242"
    assert launch.worker_command(systems.MACOS, **args) == (linux, options)
    windows, options = launch.worker_command(systems.WINDOWS, **dict(args, address="map:1:Local\\x", pass_fds=()))
    assert options == {"creationflags": 0x08000000}, "OBS is a GUI process: no console window"
    assert windows[0] == "/venv/python"
    flatpak, options = launch.worker_command(systems.FLATPAK, **args)
    assert flatpak[:3] == ["flatpak-spawn", "--host", "--watch-bus"] and "--forward-fd=7" in flatpak
    assert "--env=PYTHONPATH=/home/me/obs-faceswap" in flatpak and options == {"pass_fds": (7,)}
    assert flatpak[flatpak.index("--owner-pid") + 1] == "0", "the sandbox's pids mean nothing on the host"
    assert "--stack-watchdog" in flatpak


def test_worker_environment_per_system():
    base = {"PYTHONHOME": "C:\\OBS\\python", "PYTHONPATH": "x", "PATH": "p", "PYTHONEXECUTABLE": "obs64.exe"}
    windows = launch.worker_environment(systems.WINDOWS, base, "C:\\obs-faceswap")
    assert windows["PYTHONUTF8"] == "1", "else its error text is in the ANSI code page"
    assert windows["PYTHONPATH"] == "C:\\obs-faceswap" and "PYTHONHOME" not in windows and windows["PATH"] == "p"
    assert "PYTHONEXECUTABLE" not in windows
    assert "PYTHONUTF8" not in launch.worker_environment(systems.LINUX, base, "/p")


def test_the_microsoft_store_alias_is_never_the_worker(monkeypatch, tmp_path):
    alias = "C:\\Users\\me\\AppData\\Local\\Microsoft\\WindowsApps\\python3.exe"
    problem = launch.interpreter_problem(alias, systems.WINDOWS)
    assert "Microsoft Store" in problem and "Scripts\\python.exe" in problem
    assert launch.interpreter_problem("C:\\obs-faceswap\\.venv\\Scripts\\python.exe", systems.WINDOWS) == ""
    assert launch.default_worker_python(systems.WINDOWS, "C:\\fs\\.venv").endswith(os.path.join("Scripts", "python.exe"))
    monkeypatch.setenv("OBS_FACESWAP_CONFIG", str(tmp_path / "absent.json"))
    monkeypatch.delenv("OBS_FACESWAP_PYTHON", raising=False)
    monkeypatch.setattr(launch, "PROJECT_ROOT", str(tmp_path))   # no .venv there
    monkeypatch.setattr(launch.shutil, "which", lambda name: alias)
    chosen = launch.worker_interpreter(systems.WINDOWS)
    assert chosen != alias and chosen.endswith(os.path.join(".venv", "Scripts", "python.exe"))


def macho(path, *cpu_types: int) -> str:
    """A Mach-O header: thin (little-endian 64-bit) for one type, fat for several."""
    if len(cpu_types) == 1:
        data = struct.pack("<II", 0xFEEDFACF, cpu_types[0]) + bytes(24)
    else:
        data = struct.pack(">II", 0xCAFEBABE, len(cpu_types))
        data += b"".join(struct.pack(">IIIII", cpu, 0, 4096 * (i + 1), 4096, 12) for i, cpu in enumerate(cpu_types))
    path.write_bytes(data)
    return str(path)


def test_macos_worker_python_of_the_wrong_architecture_is_named(tmp_path):
    intel = macho(tmp_path / "python-intel", 0x01000007)
    universal = macho(tmp_path / "python-universal", 0x01000007, 0x0100000C)
    assert launch.macho_architectures(intel) == ["x86_64"]
    assert launch.macho_architectures(universal) == ["x86_64", "arm64"]
    assert launch.macho_architectures(sys.executable) == []   # an ELF file here: unknown, not wrong
    apple = macho(tmp_path / "python-apple", 0x0100000C)
    problem = launch.interpreter_problem(apple, systems.MACOS, machine="x86_64")
    assert apple in problem and "arm64 only" in problem and "x86_64" in problem
    assert launch.interpreter_problem(universal, systems.MACOS, machine="arm64") == ""
    assert launch.interpreter_note(universal, systems.MACOS, machine="arm64") == ""
    # an Intel-only Python on Apple Silicon runs under Rosetta 2: allowed, and said to be slower
    assert launch.interpreter_problem(intel, systems.MACOS, machine="arm64") == ""
    note = launch.interpreter_note(intel, systems.MACOS, machine="arm64")
    assert "Rosetta 2" in note and "slower" in note and intel in note
    link_to_it = tmp_path / "venv-python"
    link_to_it.symlink_to(apple)             # a venv's python is a link to the real binary
    assert "arm64 only" in launch.interpreter_problem(str(link_to_it), systems.MACOS, machine="x86_64")
    failure = launch.start_failure(intel, OSError(launch.EBADARCH, "Bad CPU type in executable"), systems.MACOS)
    assert "another processor" in failure and "Rosetta" in failure


def test_supervisor_names_a_wrong_worker_python_in_the_status(tmp_path):
    """macOS is simulated through the supervisor's system; the Mach-O header is real bytes,
    built for the processor this machine is not."""
    import platform

    other = ("arm64", 0x0100000C) if platform.machine() in ("x86_64", "AMD64") else ("x86_64", 0x01000007)
    python = macho(tmp_path / "python", other[1])
    supervisor = WorkerSupervisor({"python": python, "source_photo": ""}, system=systems.MACOS)
    try:
        wait_until(lambda: f"{other[0]} only" in supervisor.last_error, what="the architecture to be named")
        assert python in supervisor.last_error
        assert not supervisor.worker_up and supervisor.start_attempts == 0
    finally:
        supervisor.stop()


def test_an_intel_worker_python_on_apple_silicon_is_started_and_called_slower(tmp_path, monkeypatch):
    """Rosetta 2 runs an x86_64 worker on an arm64 Mac: it was refused; now it is started
    and the status line says it is slower. The Mac is simulated (its machine name and an
    x86_64 Mach-O header); the file cannot run here, so the start itself fails."""
    intel = macho(tmp_path / "python", 0x01000007)
    monkeypatch.setattr(launch.platform, "machine", lambda: "arm64")
    supervisor = WorkerSupervisor({"python": intel, "source_photo": ""}, system=systems.MACOS)
    try:
        wait_until(lambda: supervisor.start_attempts >= 1, what="a start of the Intel Python")
        assert "Rosetta 2" in supervisor.start_note and "slower" in supervisor.start_note
        assert "x86_64 only" not in supervisor.last_error
    finally:
        supervisor.stop()


NEEDS_ROOT_AND_UNSHARE = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                                            reason="the Flatpak simulation's namespaces need root and unshare")


@NEEDS_ROOT_AND_UNSHARE
def test_flatpak_obs_starts_its_worker_on_the_host_paired_by_token(tmp_path, monkeypatch):
    """In Flatpak the worker runs on the host through flatpak-spawn, where OBS's pid means
    nothing: the worker sees no parent it knows (getppid() is 0 in its namespace) and
    recognises its channel by the token alone. Before the link it refused the channel."""
    bin_dir = tmp_path / "bin"
    platform_sims.fake_flatpak_spawn(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FLATPAK_SIM_PID_NAMESPACE", "1")
    supervisor = WorkerSupervisor({"python": sys.executable, "source_photo": ""}, system=systems.FLATPAK)
    try:
        wait_until(lambda: supervisor.worker_up and supervisor.channel.state() == link.STATE_NO_SOURCE,
                   what=f"the worker to run on the 'host' ({supervisor.last_error})")
        command = (bin_dir / "commands").read_text()
        assert "--owner-pid 0" in command and supervisor.channel.token in command
        assert supervisor.channel.worker_pid() == 1, "the worker did not run in its own PID namespace"
        # this test's own worker: the child of the spawned 'flatpak-spawn' (another test run
        # on the same machine has workers of its own: a loaded run failed waiting on one)
        spawned = supervisor.worker_pid()
        workers = [pid for pid in helpers.worker_pids(parent=spawned) if pid != spawned]
        assert workers, "no worker process"
    finally:
        supervisor.stop()
    wait_until(lambda: not any(helpers.processes_running(pid) for pid in workers), timeout=10,
               what="the worker to end with the filter")


@NEEDS_ROOT_AND_UNSHARE
def test_flatpak_runs_the_installed_venv_whose_python_only_the_host_has(tmp_path, monkeypatch):
    """The venv's python links to the host's /usr/bin/python3.X, absent from the sandbox's
    /usr. Before, the filter judged it inside the sandbox, fell back to the sandbox's
    python3, which flatpak-spawn ran on the host without our packages: endless "No module
    named" restarts. Now the venv's link counts and the host runs it."""
    from faceswap_core import install_config

    bin_dir = tmp_path / "bin"
    platform_sims.fake_flatpak_spawn(bin_dir)
    sandbox_python = bin_dir / "python3"     # the runtime's python3 as the host runs it: no packages
    sandbox_python.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'numpy'\" >&2\nexit 1\n")
    sandbox_python.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    python = platform_sims.venv_whose_python_is_only_on_the_host(str(tmp_path / "host"), os.path.join(REPO, ".venv"),
                                                                 monkeypatch)
    assert os.path.lexists(python) and not os.path.exists(python), "the link must dangle in the 'sandbox'"
    config = tmp_path / "obs-faceswap.json"
    install_config.write_config({"worker_python": python}, str(config))
    monkeypatch.setenv("OBS_FACESWAP_CONFIG", str(config))
    monkeypatch.delenv("OBS_FACESWAP_PYTHON", raising=False)
    monkeypatch.setattr(launch, "PROJECT_ROOT", str(tmp_path))   # no .venv next to the script
    assert launch.worker_interpreter(systems.FLATPAK) == python
    supervisor = WorkerSupervisor({"python": "", "source_photo": ""}, system=systems.FLATPAK)
    try:
        wait_until(lambda: supervisor.worker_up and supervisor.channel.state() == link.STATE_NO_SOURCE,
                   timeout=90, what=f"the venv's worker to run on the 'host' ({supervisor.last_error})")
        assert (bin_dir / "commands").read_text().split()[0] == python
        assert supervisor.restarts == 0
    finally:
        supervisor.stop()


@NEEDS_ROOT_AND_UNSHARE
def test_flatpak_hung_worker_is_killed_on_the_host(tmp_path, monkeypatch):
    """Killing flatpak-spawn only sends the host's worker SIGINT, which a worker stuck in C
    never acts on; it lived on beside its replacement. Now the supervisor kills the
    worker's own pid on the host (flatpak-spawn --host kill)."""
    bin_dir = tmp_path / "bin"
    platform_sims.fake_flatpak_spawn(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    stuck = make_faulty_python(tmp_path, "deadlock:120")
    supervisor = WorkerSupervisor({"python": stuck, "source_photo": ""}, system=systems.FLATPAK)
    hung = []
    try:
        wait_until(lambda: supervisor.worker_up and supervisor.channel.worker_pid() > 1,
                   timeout=90, what=f"the worker to start ({supervisor.last_error})")
        hung.append(supervisor.channel.worker_pid())
        wait_until(lambda: supervisor.hangs >= 1, timeout=60, what="the hang to be seen")
        wait_until(lambda: not helpers.processes_running(hung[0]), timeout=30,
                   what=f"the hung worker {hung[0]} to be killed on the host")
        commands = (bin_dir / "commands").read_text()
        assert f"kill -KILL {hung[0]}" in commands
    finally:
        supervisor.stop()
        for pid in hung + [pid for pid in helpers.worker_pids() if "deadlock:120" in helpers.command_line(pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_stopping_a_worker_that_killing_cannot_reach_ends_it_through_stdin():
    """Flatpak: killing flatpak-spawn does not kill the worker on the host; closing its
    stdin does. The supervisor closes stdin first on every system."""
    supervisor = WorkerSupervisor({"python": sys.executable, "source_photo": ""})
    try:
        wait_until(lambda: supervisor.worker_up, what="the worker")
        with supervisor._lock:
            process = supervisor._process
        supervisor._kill_worker()
        assert process.stdin.closed
    finally:
        supervisor.stop()


# -- libobs through ctypes ------------------------------------------------------------------------
def test_every_libobs_function_has_its_argument_types():
    """Apple arm64: a variadic function called without argtypes for its fixed arguments
    garbles or crashes (blog on the first log line). Every function the OBS side calls is
    in a prototype table, and every table entry declares its arguments."""
    import re
    from pathlib import Path

    from faceswap_core.obs import libobs

    tables = {"blocking": libobs.BLOCKING_FUNCTIONS, "render": libobs.RENDER_FUNCTIONS,
              "variadic": libobs.VARIADIC_FUNCTIONS}
    assert "blog" in libobs.VARIADIC_FUNCTIONS
    assert libobs.VARIADIC_FUNCTIONS["blog"][1] == [ctypes.c_int, ctypes.c_char_p]
    for table in tables.values():
        assert all(isinstance(argtypes, list) for _, argtypes in table.values())
    called = re.compile(r"\b(blocking|render|variadic|gs|obs)\.([a-z_0-9]+)\(")
    for path in sorted((Path(REPO) / "faceswap_core" / "obs").glob("*.py")):
        for view, name in called.findall(path.read_text(encoding="utf-8")):
            known = name in libobs.BLOCKING_FUNCTIONS or name in libobs.RENDER_FUNCTIONS or name in libobs.VARIADIC_FUNCTIONS
            assert known, f"{path.name} calls {name} without a prototype"
    if os.path.exists(helpers.LIBOBS):
        api = libobs.LibObs(helpers.LIBOBS)
        assert api.variadic.blog.argtypes == [ctypes.c_int, ctypes.c_char_p]
        api.log(libobs.LOG_INFO, "argument types test: 100% of a line with a % sign")


LOADED_FIRST = r"""
import ctypes, sys
sys.path.insert(0, sys.argv[1])
ctypes.CDLL(sys.argv[2], mode=ctypes.RTLD_GLOBAL)      # what OBS itself has done
from faceswap_core.obs import libobs
handle = libobs.loaded_libobs()
print(handle._name, hasattr(handle, "obs_register_source_s"))
"""


def test_libobs_is_the_one_already_loaded():
    """Loading libobs by a name can load a second, uninitialised copy (macOS). The process's
    own symbols come first; a name only when nothing has loaded it."""
    if not os.path.exists(helpers.LIBOBS):
        pytest.skip(f"{helpers.LIBOBS} is absent: apt-get install obs-studio")
    env = {key: value for key, value in os.environ.items() if key != "OBS_FACESWAP_LIBOBS"}
    output = subprocess.run([sys.executable, "-c", LOADED_FIRST, REPO, helpers.LIBOBS], env=env,
                            capture_output=True, text=True, timeout=60)
    assert output.stdout.split() == ["None", "True"], output.stderr


def test_windows_finds_libobs_and_the_frontend_through_handles_above_4_gib(monkeypatch):
    """64-bit Windows loads DLLs above 4 GiB. Before the prototype table, GetModuleHandleW's
    handle came back as a C int, cut to 32 bits, and the filter never registered. Here
    kernel32 is a real C-callable function handing out such handles for the real libobs
    and frontend API (Linux builds standing in for obs.dll and obs-frontend-api.dll)."""
    frontend_file = os.path.join(os.path.dirname(helpers.LIBOBS), "libobs-frontend-api.so.0")
    if not (os.path.exists(helpers.LIBOBS) and os.path.exists(frontend_file)):
        pytest.skip(f"{helpers.LIBOBS} or {frontend_file} is absent: apt-get install obs-studio")
    from faceswap_core.obs import frontend, libobs

    windows = platform_sims.WindowsModules({"obs.dll": helpers.LIBOBS, "obs-frontend-api.dll": frontend_file})
    windows.install(monkeypatch)
    monkeypatch.delenv("OBS_FACESWAP_LIBOBS", raising=False)
    assert all(handle > 2**32 for handle in windows.handles.values())
    api = libobs.LibObs(platform="win32")
    assert windows.handles_given_to_cdll == [windows.handles["obs.dll"]], "a handle cut to 32 bits, or a second load"
    assert api.blocking.obs_get_source_output_flags is not None
    api.log(libobs.LOG_INFO, "a line through the libobs found by its 64-bit handle")   # really calls libobs
    events = frontend.frontend_library("win32")
    assert events is not None and windows.handles_given_to_cdll[-1] == windows.handles["obs-frontend-api.dll"]
    assert frontend.frontend_library("win32") is not None
    windows.handles.pop("obs-frontend-api.dll")   # a bare libobs host: no frontend, and no error
    assert frontend.frontend_library("win32") is None


def test_source_info_goes_to_libobs_inside_a_zeroed_512_byte_buffer(monkeypatch):
    """libobs reads info->version (offset 368) before it checks the size passed."""
    from faceswap_core.obs import registration
    from faceswap_core.obs import source_info as si

    class Api:
        class blocking:
            passed = []

            @staticmethod
            def obs_get_source_output_flags(name):
                return 0

            @staticmethod
            def obs_register_source_s(info, size):
                Api.blocking.passed.append((ctypes.string_at(ctypes.addressof(info), 512), size))

        @staticmethod
        def log(level, text):
            pass

    registry = registration.FilterRegistry(Api)
    assert registry.register() is True
    # two types: the mark filter (program picture), then the Face Swap filter
    (mark_data, mark_size), (data, size) = Api.blocking.passed
    for info, (passed, length) in ((registry.marks.info, (mark_data, mark_size)), (registry.info, (data, size))):
        assert length == ctypes.sizeof(si.ObsSourceInfo) < 368
        assert passed[:length] == ctypes.string_at(ctypes.addressof(info), length)
        assert passed[length:] == bytes(512 - length), "libobs would read garbage as the struct's version"


SIGNER_IN_A_CODE_PAGE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from faceswap_core.obs.recordings import RecordingSigner

class Api:
    @staticmethod
    def log(level, text):
        pass

print(sys.getfilesystemencoding(), file=sys.stderr)
signer = RecordingSigner(Api, None, None)
said = "Signed content credentials into /home/Zo\u00eb/Vid\u00e9os/stream.mp4"
signer._run([sys.executable, "-c", f"import sys; sys.stdout.buffer.write({said.encode()!r})"], {}, "x.mp4")
print(ascii(signer.last_outcome))
"""


def test_the_signers_words_are_read_as_utf8_whatever_the_code_page():
    """Windows: text=True decoded the signer's UTF-8 output with the ANSI code page, so a
    user folder with an accent came out garbled (or the thread died decoding it). OBS's
    Python in a non-UTF-8 locale stands in for the code page: an ASCII C locale, UTF-8
    mode off."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LC_", "LANG", "PYTHONUTF8"))}
    env.update(LC_ALL="C")
    done = subprocess.run([sys.executable, "-X", "utf8=0", "-c", SIGNER_IN_A_CODE_PAGE, REPO], env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ascii("Signed content credentials into /home/Zo\u00eb/Vid\u00e9os/stream.mp4"), \
        done.stdout + done.stderr
