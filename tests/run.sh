#!/usr/bin/env bash
# The whole test suite on a fresh machine: system packages for the OBS tests (when root),
# the project's venv with its test extras, then pytest. Safe to run again: each step is
# skipped when already done. Extra arguments go to pytest (e.g. -k, -x, a test path).
set -euo pipefail
cd "$(dirname "$0")/.."

# xdotool: the Scripts window; debootstrap: the chroots with OBS 30 and 32 (below)
OBS_PACKAGES="obs-studio xvfb xauth libgl1-mesa-dri libegl-mesa0 xdotool debootstrap"
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    missing=""
    for package in $OBS_PACKAGES; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        echo "== installing for the OBS tests:$missing"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    fi
else
    echo "== not root or no apt-get: OBS tests will skip unless obs-studio and Xvfb are installed"
fi

# Python 3.11 matches Debian's OBS (its obspython module is built for 3.11).
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
    for candidate in python3.11 python3.12 python3.10 python3; do
        if command -v "$candidate" >/dev/null; then PYTHON=$candidate; break; fi
    done
fi
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
echo "== installing the project and its test extras"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,neural]'
# insightface is only the reference the neural tests compare against: without its
# dependencies, which would bring a second OpenCV and the CPU onnxruntime package.
.venv/bin/python -m pip install -q --no-deps 'insightface==2.1'
# The PyTorch runner's parity tests run on torch's CPU build. Not the `gpu` extra: its
# torchvision would pull a multi-GB CUDA torch; onnx2torch runs without torchvision here.
# torch asks for setuptools and would upgrade it past 80, which drops pkg_resources that
# the dlib judge's model package needs: keep the pin in the same resolve.
if .venv/bin/python -m pip install -q 'torch==2.13.0' 'setuptools<81' && .venv/bin/python -m pip install -q --no-deps 'onnx2torch==1.5.15'; then
    export FACESWAP_REQUIRE_TORCH=1   # installed: a torch that fails to import is then an error, not a skip
else
    echo "== torch could not be installed: the PyTorch runner's tests will skip"
fi

# OBS 30.2.3 (Debian 13) and 32.2.2 (Debian unstable), each in a chroot built once and kept
# in /var/cache/obs-faceswap/chroots (outside the clone): the OBS tests run on all three.
.venv/bin/python -m testkit.obs_installs build

# A real Triton server (nvidia-pytriton's bundled 2.51, Python backend) in its own venv, built
# once and kept in /var/cache/obs-faceswap/triton-venv: the remote-runtime tests start it.
.venv/bin/python -m testkit.triton_server build || echo "== the Triton venv could not be built: its tests will fail in CI"

echo "== running tests"
exec .venv/bin/python -m pytest -q -rs -p no:cacheprovider "$@"
