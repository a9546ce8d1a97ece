#!/usr/bin/env bash
# Downloads into .whl/ the wheels of seco's dependencies that the lent GPU machines' image lacks (omegaconf
# with its parser runtime, pycocotools), for CPython 3.12 on x86-64 Linux, the image's python3. Run it where
# pip reaches a package registry; benchmarks/gpu_suite.sh installs them there into a temporary folder.
# .whl/ is kept out of git (.git/info/exclude) and travels with the working tree: carry ".whl".
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
exclude="$(git rev-parse --git-path info/exclude)"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "omegaconf==${OMEGACONF:-2.4.0}" "antlr4-python3-runtime==${ANTLR:-4.13.2}" \
  "pycocotools==${PYCOCOTOOLS:-2.0.11}"
ls -l .whl
