"""Which ONNX Runtime package this machine gets: the rules in one place.

Peers' users lose days to onnxruntime / CUDA / cuDNN mismatches. The rules here avoid
them: NVIDIA gets `onnxruntime-gpu[cuda,cudnn]`, whose extras install the CUDA and cuDNN
libraries it was built against from PyPI (no system CUDA toolkit, no cuDNN download), if
the driver is new enough for them; Windows with any other GPU (or an old NVIDIA driver)
gets DirectML; macOS gets the plain package, which has CoreML; everything else the CPU
package. Exactly one of these packages may be in a venv (they share the `onnxruntime`
module), so the installer removes the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from .machine import AMD, INTEL, NVIDIA, Machine, driver_major

CPU_PACKAGE = "onnxruntime"
GPU_PACKAGE = "onnxruntime-gpu"
DIRECTML_PACKAGE = "onnxruntime-directml"
# Every distribution that provides the `onnxruntime` module; two at once shadow each other.
ORT_DISTRIBUTIONS = (CPU_PACKAGE, GPU_PACKAGE, DIRECTML_PACKAGE, "onnxruntime-openvino",
                     "onnxruntime-rocm", "onnxruntime-silicon", "onnxruntime-qnn")
MIN_VERSION = "1.17"
# onnxruntime-gpu from PyPI is built for CUDA 12, which needs at least these drivers.
MIN_NVIDIA_DRIVER = {"linux": 525, "windows": 528}
# What --runtime accepts besides "auto".
FLAVOURS = ("cpu", "cuda", "directml", "coreml")


@dataclass(frozen=True)
class RuntimeChoice:
    flavour: str            # cpu, cuda, directml, coreml
    package: str            # the distribution name, e.g. onnxruntime-gpu
    requirement: str        # what pip installs, e.g. onnxruntime-gpu[cuda,cudnn]>=1.17
    providers: tuple[str, ...]   # execution providers it should offer, best first
    reason: str             # one sentence for the user: why this package


def package_choice(flavour: str, reason: str) -> RuntimeChoice:
    if flavour == "cuda":
        return RuntimeChoice(flavour, GPU_PACKAGE, f"{GPU_PACKAGE}[cuda,cudnn]>={MIN_VERSION}",
                             ("CUDAExecutionProvider", "CPUExecutionProvider"), reason)
    if flavour == "directml":
        return RuntimeChoice(flavour, DIRECTML_PACKAGE, f"{DIRECTML_PACKAGE}>={MIN_VERSION}",
                             ("DmlExecutionProvider", "CPUExecutionProvider"), reason)
    if flavour == "coreml":
        return RuntimeChoice(flavour, CPU_PACKAGE, f"{CPU_PACKAGE}>={MIN_VERSION}",
                             ("CoreMLExecutionProvider", "CPUExecutionProvider"), reason)
    if flavour == "cpu":
        return RuntimeChoice(flavour, CPU_PACKAGE, f"{CPU_PACKAGE}>={MIN_VERSION}",
                             ("CPUExecutionProvider",), reason)
    raise ValueError(f"unknown ONNX Runtime flavour {flavour!r}; choose one of: auto, {', '.join(FLAVOURS)}")


def choose(machine: Machine, requested: str = "auto") -> RuntimeChoice:
    """The package for this machine, or the one the user asked for with --runtime."""
    if requested != "auto":
        return package_choice(requested, f"you asked for --runtime {requested}")
    if machine.os == "macos":
        return package_choice("coreml", "macOS: the standard onnxruntime package includes CoreML")
    if machine.has(NVIDIA):
        return _nvidia(machine)
    if machine.os == "windows" and machine.arch == "x86_64" and (machine.has(AMD) or machine.has(INTEL)):
        return package_choice("directml", "Windows with an AMD or Intel GPU: DirectML runs on it")
    if machine.os == "linux" and machine.has(AMD):
        return package_choice("cpu", "AMD GPU on Linux: onnxruntime-rocm is not on PyPI, so the CPU package is used")
    return package_choice("cpu", "no supported GPU seen, so the CPU package; the landmark engine needs no GPU")


def _nvidia(machine: Machine) -> RuntimeChoice:
    gpu = next(g for g in machine.gpus if g.vendor == NVIDIA)
    needed = MIN_NVIDIA_DRIVER.get(machine.os)
    major = driver_major(gpu.driver)
    if needed is None:
        return package_choice("cpu", f"NVIDIA GPU on {machine.os}: no onnxruntime-gpu wheels there, so the CPU package")
    if machine.arch != "x86_64" and machine.os == "windows":
        return package_choice("cpu", "NVIDIA GPU on Windows on ARM: no onnxruntime-gpu wheels, so the CPU package")
    if major is not None and major >= needed:
        return package_choice("cuda", f"NVIDIA {gpu.name} with driver {gpu.driver}: onnxruntime-gpu with its own "
                                      "CUDA and cuDNN from PyPI")
    seen = f"driver {gpu.driver}" if gpu.driver else "no working NVIDIA driver (nvidia-smi did not answer)"
    if machine.os == "windows" and machine.arch == "x86_64":
        return package_choice("directml", f"NVIDIA {gpu.name} with {seen} (CUDA needs {needed}+): DirectML "
                                          f"instead; update the NVIDIA driver and run the installer again for CUDA")
    return package_choice("cpu", f"NVIDIA {gpu.name or 'GPU'} with {seen} (CUDA needs {needed}+): the CPU package; "
                                 f"update the NVIDIA driver and run the installer again for CUDA")
