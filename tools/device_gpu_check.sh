#!/usr/bin/env bash
# On the device machine (PyTorch with CUDA, no network), in the repository root, with
# .gpu_carry carried (tools/gpu_carry.sh makes it): the GPU frame path's benchmark at
# 1080p with 1 and 4 faces (and without CUDA graphs, for comparison), then tests/gpu (its two
# CUDA tests run only there; the rest re-checks parity with that OpenCV). Results go under $OUT:
# bench_gpu.json, bench_gpu.txt, pytest_gpu.txt. Designed to finish in ~4-6 minutes.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .gpu_carry/wheels/*.whl || exit 1
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
mkdir -p ../shared && cp -rn .gpu_carry/shared/. ../shared/ 2>/dev/null || echo "could not place ../shared: media tests skip"
{ nvidia-smi --query-gpu=name,memory.total,clocks.sm,driver_version --format=csv; python3 -c "import torch, numpy, cv2, onnx; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cv2', cv2.__version__, 'onnx', onnx.__version__)"; } 2>&1 | tee "$OUT/env.txt"
timeout ${BENCH_TIMEOUT:-300} python3 -m tools.bench_gpu --out "$OUT/bench_gpu.json" --models /tmp/faceswap_bench_models --compare-eager "$@" 2>&1 | tee "$OUT/bench_gpu.txt"
echo "bench exit: ${PIPESTATUS[0]}" | tee -a "$OUT/bench_gpu.txt"
timeout ${TEST_TIMEOUT:-120} python3 -m pytest -q -p no:cacheprovider tests/gpu -rs 2>&1 | tail -60 | tee "$OUT/pytest_gpu.txt"
