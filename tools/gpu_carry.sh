#!/usr/bin/env bash
# Here (a developer machine with network to PyPI), before the device check: gathers what the
# device machine lacks into .gpu_carry/ (git-ignored via .git/info/exclude), for the `run`
# tool's carry: the onnx2torch wheel (pure Python) and the small shared test files (the
# real SCRFD-500M detector and a few media files, ~5 MB). Model weights are not carried:
# tools/bench_gpu.py generates its real-size random-weight models on the device.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.gpu_carry/" .git/info/exclude 2>/dev/null || echo "/.gpu_carry/" >> .git/info/exclude
mkdir -p .gpu_carry/wheels .gpu_carry/shared/models .gpu_carry/shared/media
PIP=${PIP:-.venv/bin/pip}
[ -f .gpu_carry/wheels/onnx2torch-1.5.15-py3-none-any.whl ] || "$PIP" download -q --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp -d .gpu_carry/wheels onnx2torch==1.5.15
cp -n ../shared/models/scrfd_500m_bnkps.onnx .gpu_carry/shared/models/ 2>/dev/null || echo "no ../shared/models: media tests will skip there"
for f in if_t1.jpg fr_obama.jpg lp_d18.mp4 lp_d12.mp4 lp_d3.mp4; do
    cp -n "../shared/media/$f" .gpu_carry/shared/media/ 2>/dev/null || true
done
du -sh .gpu_carry
