#!/usr/bin/env bash
# Every GPU measurement of issue 27 in one call (benchmarks/gpu_suite.py says what and where it writes).
#
#   benchmarks/gpu_suite.sh                    # on a GPU machine: JSON and log under docs/bench/<card>/
#   benchmarks/gpu_suite.sh --dry-run          # the same items on the CPU at tiny sizes
#   benchmarks/gpu_suite.sh --scale --mps      # `seco bench scale` instead, in its own call (~9 minutes)
#
# It needs python3 with torch. The package's other dependencies come from .whl/ when python3 lacks them
# (benchmarks/gpu_wheels.sh builds it; a GPU machine without a registry gets it by carrying .whl) and the
# package itself from src/ on PYTHONPATH: nothing is installed into python3's own site-packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import omegaconf, pycocotools" 2>/dev/null; then
  if ! compgen -G ".whl/*.whl" >/dev/null; then
    echo "gpu_suite: python3 lacks omegaconf or pycocotools and .whl/ holds no wheels; run benchmarks/gpu_wheels.sh where pip reaches a registry, and carry .whl" >&2
    exit 1
  fi
  site="${TMPDIR:-/tmp}/seco-site"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec python3 benchmarks/gpu_suite.py "$@"
