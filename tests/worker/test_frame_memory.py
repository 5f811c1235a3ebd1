"""Frame-sized buffers are reused, not fetched fresh from the system every frame
(faceswap_core.frame_memory), in the worker and in the CLI.

Each case runs a fresh interpreter: the process's main (the worker's, given a channel that
is not there, returns at once; the CLI's prints its help), then the camera path's real
conversion of a 720p I420 frame to BGR, 50 times, counting the page faults the process
took (fresh pages are the cost: glibc's defaults gave about 1,700 a frame here).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from testkit import pythonpath_env

MAINS = {
    "worker": "from faceswap_core.worker import service\nassert service.main(['--channel', '/nonexistent', "
              "'--token', '00', '--no-stdin-watch']) == 2\n",
    "cli": "from faceswap_core import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n",
    "neither": "",
}

CONVERT = """
import resource, numpy as np
from faceswap_core.link import pixel_formats as pf
from faceswap_core.worker import pixel_convert as pc
w, h = 1280, 720
frame = np.random.default_rng(0).integers(0, 255, w * h * 3 // 2, dtype=np.uint8)
planes = pc.plane_views(frame, 0, pf.I420, w, h, (w, w // 2, w // 2))
matrix = pc.yuv_matrix(0.2126, 0.0722, False)
for _ in range(5):
    pc.to_bgr(planes, pf.I420, w, h, matrix)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    pc.to_bgr(planes, pf.I420, w, h, matrix)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def _faults_per_frame(main: str) -> float:
    result = subprocess.run([sys.executable, "-c", main + CONVERT], env=pythonpath_env({}), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return float(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator is the one set (Linux)")
@pytest.mark.parametrize("process", ["worker", "cli"])
def test_a_frames_conversion_reuses_memory_after_main(process):
    pages = 1280 * 720 * 3 // 4096   # one BGR frame's pages
    faults = _faults_per_frame(MAINS[process])
    assert faults < pages / 10, (f"{faults:.0f} page faults a frame after the {process}'s main "
                                 f"(without it: {_faults_per_frame(MAINS['neither']):.0f})")


def test_a_c_library_without_mallopt_is_left_alone(monkeypatch):
    """A C library with no glibc mallopt, or none found (simulated: a stand-in library
    object without the symbol, and a loader that finds nothing, as on a system whose libc
    is not glibc); macOS and Windows are not touched at all. Nothing raises."""
    from faceswap_core import frame_memory

    class NoMallopt:   # what ctypes gives for a library lacking the symbol: AttributeError on lookup
        def __init__(self, name):
            self.name = name

    if sys.platform.startswith("linux"):
        with monkeypatch.context() as patched:
            patched.setattr(frame_memory.ctypes, "CDLL", NoMallopt)
            assert frame_memory.keep_freed_frames() is False

        def no_library(name):
            raise OSError(f"{name}: cannot open shared object file")

        with monkeypatch.context() as patched:
            patched.setattr(frame_memory.ctypes, "CDLL", no_library)
            assert frame_memory.keep_freed_frames() is False
    monkeypatch.setattr(frame_memory.sys, "platform", "darwin")
    assert frame_memory.keep_freed_frames() is False
