"""What this computer is: operating system, CPU architecture and graphics cards.

The ONNX Runtime package that works depends on exactly these facts (see runtime_choice).
Every probe is a read of a file or a short command that may be missing; a probe that
fails means "not seen", never an error: the installer then falls back to the CPU package.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

NVIDIA, AMD, INTEL, APPLE, OTHER = "nvidia", "amd", "intel", "apple", "other"
# PCI vendor ids as Linux shows them in /sys/class/drm/card*/device/vendor.
PCI_VENDORS = {"0x10de": NVIDIA, "0x1002": AMD, "0x1022": AMD, "0x8086": INTEL}

Runner = Callable[[Sequence[str]], "str | None"]


@dataclass(frozen=True)
class Gpu:
    vendor: str            # nvidia, amd, intel, apple, other
    name: str = ""
    driver: str = ""       # NVIDIA driver version from nvidia-smi, e.g. "551.86"


@dataclass(frozen=True)
class Machine:
    os: str                # "linux", "windows", "macos"
    arch: str              # "x86_64", "arm64", ...
    gpus: tuple[Gpu, ...] = field(default_factory=tuple)

    def has(self, vendor: str) -> bool:
        return any(gpu.vendor == vendor for gpu in self.gpus)

    def describe(self) -> str:
        cards = ", ".join(gpu.name or gpu.vendor for gpu in self.gpus) or "no graphics card seen"
        return f"{self.os} {self.arch}, {cards}"


def run_quietly(command: Sequence[str], timeout: float = 15.0) -> str | None:
    """A command's stdout, or None when it is missing, fails or hangs."""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def os_name(platform_name: str | None = None) -> str:
    name = platform_name or sys.platform
    if name.startswith("win"):
        return "windows"
    if name == "darwin":
        return "macos"
    return "linux"


def normalise_arch(machine: str | None = None) -> str:
    arch = (machine or platform.machine() or "").lower()
    return {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(arch, arch)


def vendor_of(name: str) -> str:
    text = name.lower()
    if "nvidia" in text or "geforce" in text or "quadro" in text or "tesla" in text:
        return NVIDIA
    if "amd" in text or "radeon" in text or "advanced micro" in text:
        return AMD
    if "intel" in text:
        return INTEL
    if "apple" in text:
        return APPLE
    return OTHER


def nvidia_gpus(run: Runner = run_quietly) -> list[Gpu]:
    """NVIDIA cards with a working driver, from nvidia-smi (Windows and Linux)."""
    out = run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])
    gpus = []
    for line in (out or "").splitlines():
        parts = [part.strip() for part in line.split(",")]
        if parts and parts[0]:
            gpus.append(Gpu(NVIDIA, parts[0], parts[1] if len(parts) > 1 else ""))
    return gpus


def linux_drm_gpus(sys_root: str | os.PathLike = "/") -> list[Gpu]:
    """Cards the Linux kernel drives, by PCI vendor id (no lspci needed)."""
    gpus = []
    for vendor_file in sorted(Path(sys_root, "sys/class/drm").glob("card[0-9]*/device/vendor")):
        try:
            vendor_id = vendor_file.read_text().strip().lower()
        except OSError:
            continue
        vendor = PCI_VENDORS.get(vendor_id, OTHER)
        gpus.append(Gpu(vendor, f"{vendor} card ({vendor_id})"))
    return gpus


def windows_gpus(run: Runner = run_quietly) -> list[Gpu]:
    """Display adapters Windows knows, by name (PowerShell's CIM query)."""
    out = run(["powershell", "-NoProfile", "-Command",
               "Get-CimInstance Win32_VideoController | ForEach-Object { $_.Name }"])
    return [Gpu(vendor_of(line), line.strip()) for line in (out or "").splitlines() if line.strip()]


def mac_gpus(arch: str) -> list[Gpu]:
    return [Gpu(APPLE, "Apple silicon GPU")] if arch == "arm64" else []


def merge(primary: list[Gpu], others: list[Gpu]) -> tuple[Gpu, ...]:
    """nvidia-smi's entries (with driver versions) win over the generic ones for NVIDIA."""
    if primary:
        others = [gpu for gpu in others if gpu.vendor != NVIDIA]
    return tuple(primary + others)


def probe(run: Runner = run_quietly, platform_name: str | None = None, arch: str | None = None,
          sys_root: str | os.PathLike = "/") -> Machine:
    """This machine (the arguments exist so tests can describe another one)."""
    system = os_name(platform_name)
    cpu = normalise_arch(arch)
    if system == "macos":
        return Machine(system, cpu, tuple(mac_gpus(cpu)))
    nvidia = nvidia_gpus(run)
    others = windows_gpus(run) if system == "windows" else linux_drm_gpus(sys_root)
    return Machine(system, cpu, merge(nvidia, others))


def driver_major(driver: str) -> int | None:
    match = re.match(r"(\d+)", driver or "")
    return int(match.group(1)) if match else None
