"""Which ONNX Runtime package each kind of computer gets, on every branch of the rules,
and the probes that describe a computer.

Only Linux x86_64 without a GPU exists here: other computers (Windows, macOS, NVIDIA,
AMD, Intel) are described by hand as Machine values or as the text their tools print
(nvidia-smi, PowerShell, /sys files). Those stand-ins are the only mocks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from faceswap_core.setup import machine, runtime_choice
from installer import base_python
from faceswap_core.setup.machine import AMD, APPLE, INTEL, NVIDIA, Gpu, Machine
from faceswap_core.setup.runtime_choice import choose

RTX = Gpu(NVIDIA, "NVIDIA GeForce RTX 3060", "551.86")
RTX_LINUX = Gpu(NVIDIA, "NVIDIA GeForce RTX 3060", "550.54.14")
OLD_NVIDIA = Gpu(NVIDIA, "NVIDIA GeForce GTX 970", "472.12")
NVIDIA_NO_DRIVER = Gpu(NVIDIA, "nvidia card (0x10de)", "")
RADEON = Gpu(AMD, "AMD Radeon RX 6700 XT")
INTEL_IRIS = Gpu(INTEL, "Intel(R) Iris(R) Xe Graphics")


@pytest.mark.parametrize("computer, flavour, requirement", [
    (Machine("linux", "x86_64", (RTX_LINUX,)), "cuda", "onnxruntime-gpu[cuda,cudnn]>=1.17"),
    (Machine("windows", "x86_64", (RTX,)), "cuda", "onnxruntime-gpu[cuda,cudnn]>=1.17"),
    (Machine("windows", "x86_64", (INTEL_IRIS, RTX)), "cuda", "onnxruntime-gpu[cuda,cudnn]>=1.17"),
    (Machine("windows", "x86_64", (OLD_NVIDIA,)), "directml", "onnxruntime-directml>=1.17"),
    (Machine("linux", "x86_64", (OLD_NVIDIA,)), "cpu", "onnxruntime>=1.17"),
    (Machine("linux", "x86_64", (NVIDIA_NO_DRIVER,)), "cpu", "onnxruntime>=1.17"),
    (Machine("windows", "arm64", (RTX,)), "cpu", "onnxruntime>=1.17"),
    (Machine("windows", "x86_64", (RADEON,)), "directml", "onnxruntime-directml>=1.17"),
    (Machine("windows", "x86_64", (INTEL_IRIS,)), "directml", "onnxruntime-directml>=1.17"),
    (Machine("windows", "arm64", (Gpu(machine.OTHER, "Qualcomm Adreno"),)), "cpu", "onnxruntime>=1.17"),
    (Machine("windows", "x86_64", ()), "cpu", "onnxruntime>=1.17"),
    (Machine("macos", "arm64", (Gpu(APPLE, "Apple silicon GPU"),)), "coreml", "onnxruntime>=1.17"),
    (Machine("macos", "x86_64", ()), "coreml", "onnxruntime>=1.17"),
    (Machine("linux", "x86_64", (RADEON,)), "cpu", "onnxruntime>=1.17"),
    (Machine("linux", "x86_64", (INTEL_IRIS,)), "cpu", "onnxruntime>=1.17"),
    (Machine("linux", "arm64", ()), "cpu", "onnxruntime>=1.17"),
    (Machine("linux", "x86_64", ()), "cpu", "onnxruntime>=1.17"),
])
def test_each_kind_of_computer_gets_its_package(computer, flavour, requirement):
    choice = choose(computer)
    assert (choice.flavour, choice.requirement) == (flavour, requirement)
    assert choice.reason and choice.providers[-1] == "CPUExecutionProvider"


def test_an_old_nvidia_driver_is_named_with_the_fix():
    reason = choose(Machine("linux", "x86_64", (OLD_NVIDIA,))).reason
    assert "472.12" in reason and "525" in reason and "update the NVIDIA driver" in reason
    assert "nvidia-smi did not answer" in choose(Machine("linux", "x86_64", (NVIDIA_NO_DRIVER,))).reason


def test_the_driver_minimum_is_per_os():
    just_linux = Gpu(NVIDIA, "RTX", "525.60.13")
    assert choose(Machine("linux", "x86_64", (just_linux,))).flavour == "cuda"
    assert choose(Machine("windows", "x86_64", (just_linux,))).flavour == "directml"   # Windows needs 528


def test_the_user_can_override_the_choice():
    for flavour in runtime_choice.FLAVOURS:
        assert choose(Machine("linux", "x86_64", ()), flavour).flavour == flavour
    with pytest.raises(ValueError, match="choose one of"):
        choose(Machine("linux", "x86_64", ()), "rocm")


def test_the_providers_each_package_should_offer():
    assert choose(Machine("linux", "x86_64", (RTX_LINUX,))).providers[0] == "CUDAExecutionProvider"
    assert choose(Machine("windows", "x86_64", (RADEON,))).providers[0] == "DmlExecutionProvider"
    assert choose(Machine("macos", "arm64", ())).providers[0] == "CoreMLExecutionProvider"


# ---- probes --------------------------------------------------------------------------------

def fake_tools(outputs: dict):
    """A command runner that answers like the named tools would (None: not installed)."""
    return lambda command: outputs.get(command[0])


def test_nvidia_smi_output_becomes_gpus_with_driver_versions():
    found = machine.probe(fake_tools({"nvidia-smi": "NVIDIA GeForce RTX 4090, 560.94\nNVIDIA RTX A2000, 560.94\n"}),
                          platform_name="linux", arch="x86_64", sys_root="/nonexistent")
    assert found == Machine("linux", "x86_64", (Gpu(NVIDIA, "NVIDIA GeForce RTX 4090", "560.94"),
                                                Gpu(NVIDIA, "NVIDIA RTX A2000", "560.94")))


def test_linux_cards_are_read_from_sys_by_pci_vendor(tmp_path):
    for card, vendor in (("card0", "0x8086"), ("card1", "0x10de"), ("card2", "0x1002")):
        folder = tmp_path / "sys/class/drm" / card / "device"
        folder.mkdir(parents=True)
        (folder / "vendor").write_text(vendor + "\n")
    (tmp_path / "sys/class/drm/card1-HDMI-A-1").mkdir()   # connectors are not cards
    found = machine.probe(fake_tools({}), platform_name="linux", arch="x86_64", sys_root=tmp_path)
    assert [gpu.vendor for gpu in found.gpus] == [INTEL, NVIDIA, AMD]
    assert choose(found).flavour == "cpu"   # an NVIDIA card without a working driver: CPU, with the fix
    with_driver = machine.probe(fake_tools({"nvidia-smi": "NVIDIA T400, 535.1\n"}), platform_name="linux",
                                arch="x86_64", sys_root=tmp_path)
    assert [gpu.vendor for gpu in with_driver.gpus] == [NVIDIA, INTEL, AMD]   # nvidia-smi's entry wins
    assert choose(with_driver).flavour == "cuda"


def test_windows_adapters_are_classified_by_name():
    names = "AMD Radeon(TM) Graphics\r\nIntel(R) UHD Graphics 770\r\nMicrosoft Basic Display Adapter\r\n"
    found = machine.probe(fake_tools({"powershell": names}), platform_name="win32", arch="AMD64")
    assert found.arch == "x86_64"
    assert [gpu.vendor for gpu in found.gpus] == [AMD, INTEL, machine.OTHER]
    assert choose(found).package == "onnxruntime-directml"


def test_macs_are_told_apart_by_architecture():
    assert machine.probe(fake_tools({}), platform_name="darwin", arch="arm64").has(APPLE)
    assert machine.probe(fake_tools({}), platform_name="darwin", arch="x86_64").gpus == ()


def test_this_computer_is_probed_without_errors():
    found = machine.probe()
    assert found.os == {"linux": "linux", "win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")
    assert choose(found).requirement.startswith("onnxruntime")


def test_a_missing_tool_is_not_an_error():
    assert machine.run_quietly(["/nonexistent/nvidia-smi"]) is None
    assert machine.run_quietly([sys.executable, "-c", "raise SystemExit(3)"]) is None
    assert machine.nvidia_gpus(lambda command: None) == []
    assert machine.windows_gpus(lambda command: None) == []


# ---- the Python the venv is built from ---------------------------------------------------

def test_only_python_3_10_to_3_12_can_build_the_worker():
    assert [base_python.supported(v) for v in ((3, 9, 18), (3, 10, 0), (3, 11, 7), (3, 12, 1), (3, 13, 0))] == \
        [False, True, True, True, False]


def test_a_real_python_is_inspected_and_a_missing_one_is_skipped():
    found = base_python.inspect((sys.executable,))
    assert found is not None and found.version[:2] == sys.version_info[:2]
    assert base_python.inspect(("/nonexistent/python3",)) is None
    assert base_python.find("/nonexistent/python3") is None
    assert base_python.find().version[:2] in base_python.SUPPORTED


def test_candidates_include_the_platform_installs():
    windows = base_python.candidates("win32")
    assert ("py", "-3.12") in windows and windows.index(("py", "-3.12")) < windows.index(("py", "-3.10"))
    assert ("/Library/Frameworks/Python.framework/Versions/3.12/bin/python3",) in base_python.candidates("darwin")
    for name in ("win32", "darwin", "linux"):
        assert "then run the installer again" in base_python.how_to_get_one(name)
