"""The OBS Studio versions the suite runs against, and how a command runs inside each.

This machine's own OBS (Debian 12: 29.0.2), and newer ones from Debian's later suites,
each in a debootstrap chroot built once and kept outside the clone (building takes
minutes, and CI's clone is fresh each time):

    python -m testkit.obs_installs build      # what tests/run.sh does, when root

A command runs in a chroot inside a private mount namespace (`unshare --mount`): the
paths a test shares with it (the project, its venv's base Python, the temporary folder
with the X socket, /proc, /dev and /dev/shm) are bind-mounted at their own paths there
and vanish with the namespace, so a killed test leaves no mount behind. `unshare` and
`chroot` exec rather than fork: the pid a test sees is OBS's own, as on the host.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from testkit import REPO
CHROOTS = Path(os.environ.get("OBS_FACESWAP_CHROOTS", "/var/cache/obs-faceswap/chroots"))
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
LIB = "/usr/lib/x86_64-linux-gnu"
# What a chroot needs besides its base system: OBS, software GL, and the Python OBS's
# scripts run on. libgl1: OBS 32 loads libGL.so.1 by name (glad), nothing depends on it.
# libffi8: the worker's Python (this machine's) needs it for ctypes.
PACKAGES = ("obs-studio", "libgl1-mesa-dri", "libegl-mesa0", "libgl1", "python3", "libffi8")
# A frozen mirror's unstable suite can carry an expired Release file.
APT_OPTIONS = ("-o", "Acquire::Check-Valid-Until=false")
# Debian suite -> the OBS (and its scripts' Python) it brought when this was written.
SUITES = {"trixie": "30.2.3 (Python 3.13)", "sid": "32.2.2 (Python 3.14)"}


def recipe_stamp() -> str:
    """Changes whenever how a chroot is built changes, so a stale cache is rebuilt."""
    return hashlib.sha256(repr((PACKAGES, APT_OPTIONS, debian_mirror())).encode()).hexdigest()[:16]


def _apt_entries(sources=APT_SOURCES):
    """(types, uris, suites) of every apt source on this machine: one-line and deb822."""
    files = []
    for place in sources:
        if place.is_file():
            files.append(place)
        elif place.is_dir():
            files += sorted(path for path in place.iterdir() if path.suffix in (".list", ".sources"))
    for path in files:
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.lstrip().startswith("#") and not line.startswith(" "):
                        key, _, value = line.partition(":")
                        fields[key.strip().lower()] = value.split()
                if fields.get("enabled", ["yes"])[0].lower() != "no":
                    yield fields.get("types", []), fields.get("uris", []), fields.get("suites", [])
        else:
            for line in text.splitlines():
                words = [word for word in line.split("#", 1)[0].split() if not word.startswith("[")]
                if len(words) >= 3:
                    yield [words[0]], [words[1]], [words[2]]


def debian_mirror(sources=APT_SOURCES) -> str:
    """The Debian archive this machine's apt uses (not its security archive): debootstrap
    takes its suites from there, so the chroots come from wherever this machine may reach."""
    for types, uris, suites in _apt_entries(sources):
        if "deb" not in types or any(suite.endswith("-security") for suite in suites):
            continue
        for uri in uris:
            if uri.rstrip("/").rsplit("/", 1)[-1] == "debian":
                return uri.rstrip("/")
    raise RuntimeError(f"no Debian archive in this machine's apt sources ({', '.join(map(str, sources))}): "
                       "the OBS 30 and 32 chroots need one")


@dataclass(frozen=True)
class ObsInstall:
    """One OBS installation: this machine's (`root` "/") or a chroot's."""

    name: str          # a test id: "host", "trixie", "sid"
    root: Path

    @property
    def in_chroot(self) -> bool:
        return self.root != Path("/")

    def path(self, inside: str) -> Path:
        """A path inside the installation, as this machine sees it."""
        return self.root / inside.lstrip("/")

    def problem(self) -> str:
        """Why this installation cannot run here ("" when it can)."""
        if self.in_chroot:
            if not (self.root / ".ready").is_file() or (self.root / ".ready").read_text().strip() != recipe_stamp():
                return (f"no OBS chroot for Debian {self.name} at {self.root}: "
                        f"run `python -m testkit.obs_installs build` as root (tests/run.sh does)")
            if os.geteuid() != 0 or shutil.which("unshare") is None:
                return "running OBS in a chroot needs root and unshare (util-linux)"
        if not self.path(self.libobs_file()).exists():
            return f"{self.path(LIB)}/libobs.so.* is absent: apt-get install obs-studio"
        return ""

    def libobs_file(self) -> str:
        """libobs by a name the dynamic linker knows it by."""
        return f"{LIB}/{self._library_name('libobs')}"

    def opengl_module(self) -> str:
        """The graphics module obs_reset_video loads, by file name."""
        return self._library_name("libobs-opengl")

    def _library_name(self, library: str) -> str:
        """The library's lowest-numbered `.so.N` name: the names differ by version (OBS 29
        and 30 ship libobs-opengl.so.1 linked to .so.29/.so.30, OBS 32 only .so.0), and
        every name of one library is the same file."""
        pattern = re.compile(rf"^{re.escape(library)}\.so\.(\d+)$")
        try:
            names = os.listdir(self.path(LIB))
        except OSError:
            names = []
        found = sorted((int(m.group(1)), m.group(0)) for name in names if (m := pattern.match(name)))
        return found[0][1] if found else f"{library}.so.0"

    @property
    def scripting_dir(self) -> str:
        """Where obspython lives (PYTHONPATH for a libobs host)."""
        return f"{LIB}/obs-scripting"

    @property
    def python(self) -> str:
        """The interpreter a libobs host runs on: the one obspython was built for (the
        host's own test Python matches Debian 12's; a chroot has its system Python)."""
        return "/usr/bin/python3" if self.in_chroot else sys.executable

    def version(self) -> str:
        """OBS's version from its package (dpkg's status file, no process started)."""
        status = self.path("/var/lib/dpkg/status")
        try:
            text = status.read_text(errors="replace")
        except OSError:
            return "unknown"
        match = re.search(r"^Package: obs-studio\n(?:[^\n]+\n)*?Version: (?:\d+:)?([^\s+-]+)", text, re.M)
        return match.group(1) if match else "unknown"

    def command(self, argv: list[str]) -> list[str]:
        """`argv` as it runs in this installation (unchanged on the host)."""
        if not self.in_chroot:
            return list(argv)
        # Real paths: a link among them (../shared often is one) resolves inside the chroot
        # only if what it points to is mounted there too.
        # sys.prefix: the venv, wherever its link points (a second worktree links the first's)
        shared = sorted({os.path.realpath(p) for p in ("/proc", "/sys", "/dev", tempfile.gettempdir(), str(REPO),
                                                      str(REPO.parent / "shared"), sys.base_prefix, sys.prefix)})
        mounts = "; ".join(
            f"mkdir -p {shlex.quote(str(self.root) + p)} && mount --rbind {shlex.quote(p)} {shlex.quote(str(self.root) + p)}"
            for p in shared if os.path.isdir(p))
        script = f"set -e; {mounts}; exec chroot {shlex.quote(str(self.root))} \"$@\""
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


HOST = ObsInstall("host", Path("/"))


def installs() -> list[ObsInstall]:
    """Every OBS the suite runs against: this machine's first, then each chroot."""
    return [HOST, *(ObsInstall(suite, CHROOTS / suite) for suite in SUITES)]


def build(suite: str, log=lambda line: print(line, flush=True)) -> Path:
    """Build (or keep) the chroot for `suite`: debootstrap, then OBS and its needs."""
    root = CHROOTS / suite
    ready = root / ".ready"
    if ready.is_file() and ready.read_text().strip() == recipe_stamp():
        log(f"== OBS chroot {suite}: ready at {root} (OBS {ObsInstall(suite, root).version()})")
        return root
    staging = CHROOTS / f"{suite}.building"
    if staging.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(staging)], check=True)
    CHROOTS.mkdir(parents=True, exist_ok=True)
    log(f"== OBS chroot {suite}: debootstrap into {staging} (a few minutes)")
    _run(["debootstrap", "--variant=minbase", suite, str(staging), debian_mirror()], f"debootstrap {suite}")
    log(f"== OBS chroot {suite}: installing {' '.join(PACKAGES)}")
    apt = ("apt-get " + " ".join(APT_OPTIONS) + " update -q && DEBIAN_FRONTEND=noninteractive apt-get "
           + " ".join(APT_OPTIONS) + " install -y -q --no-install-recommends " + " ".join(PACKAGES)
           + " && apt-get clean")
    script = f"set -e; mount -t proc proc {shlex.quote(str(staging))}/proc; exec chroot {shlex.quote(str(staging))} sh -c {shlex.quote(apt)}"
    _run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], f"apt-get in the {suite} chroot")
    (staging / ".ready").write_text(recipe_stamp() + "\n")
    if root.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=True)
    staging.rename(root)
    log(f"== OBS chroot {suite}: ready at {root} (OBS {ObsInstall(suite, root).version()})")
    return root


def _run(command: list[str], what: str) -> None:
    """A build step; its output goes to a log that is shown only when it fails."""
    with tempfile.NamedTemporaryFile("w+", prefix="obs-chroot-", suffix=".log", delete=False) as log_file:
        result = subprocess.run(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            log_file.seek(0)
            tail = log_file.read()[-3000:]
            raise SystemExit(f"{what} failed ({result.returncode}); the end of {log_file.name}:\n{tail}")
    os.unlink(log_file.name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["build", "list"])
    parser.add_argument("--suite", action="append", choices=sorted(SUITES), help="only this suite (repeatable)")
    args = parser.parse_args(argv)
    if args.action == "list":
        for install in installs():
            print(f"{install.name}: OBS {install.version()} at {install.root}: {install.problem() or 'ready'}")
        return 0
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        print("== OBS chroots need root and debootstrap (apt-get install debootstrap): "
              "the tests against OBS 30 and 32 will skip")
        return 0
    suites = args.suite or list(SUITES)
    # In parallel: each is mostly waiting on downloads and dpkg (several minutes each).
    with ThreadPoolExecutor(len(suites)) as pool:
        list(pool.map(build, suites))
    return 0


if __name__ == "__main__":
    sys.exit(main())
