#!/usr/bin/env bash
# Fetch, on a machine with pip access, the wheels a bare GPU machine lacks for benchmarks/gpu.py,
# into .whl/ (ignored by git). The lent GPU machines run Python 3.12 with their own CUDA build of
# PyTorch, numpy, pandas, matplotlib, Pillow and tqdm; these are what the project needs beyond that.
#
#   bash benchmarks/gpu_wheels.sh            # here: writes .whl/*.whl (a few MB)
#   # there, with .whl carried along:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
#     && PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 python3 benchmarks/gpu.py --out "$OUT"
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(
  gymnasium==1.4.0 farama-notifications==0.0.6 pettingzoo==1.27.0 trueskill==0.4.5 box2d==2.3.10
  tyro==1.0.17 docstring-parser==0.18.0 typeguard==4.6.1
)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)
mkdir -p .whl
for package in "${PACKAGES[@]}"; do
  arguments=(--no-deps --only-binary=:all: --python-version 3.12 --implementation cp -d .whl)
  for platform in "${PLATFORMS[@]}"; do arguments+=(--platform "$platform"); done
  # trueskill ships a source archive only: build its pure-Python wheel here instead.
  python3 -m pip download -q "${arguments[@]}" "$package" 2>/dev/null \
    || python3 -m pip wheel -q --no-deps -w .whl "$package"
done
ls -la .whl
