#!/usr/bin/env bash
# Build the reference environment for bench/al_curves.py: modAL 0.4.2.1 and small-text 1.4.1
# in their OWN venv (bench/.venv-reference). modAL 0.4.2.1 breaks with scikit-learn >= 1.8
# (ActiveLearner.teach passes force_all_finite= to check_X_y), so scikit-learn is pinned < 1.8
# here; the app's venv (.venv, scikit-learn 1.9) is never touched.
# Usage: bash bench/reference_env.sh            (idempotent; re-run to repair)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${REFERENCE_VENV:-$here/.venv-reference}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet \
    "scikit-learn>=1.7,<1.8" "numpy<2.4" "scipy<1.17" \
    "modAL-python==0.4.2.1" "small-text==1.4.1"
"$venv/bin/python" - <<'PY'
import modAL, small_text, sklearn, numpy, scipy, sys
from importlib.metadata import version
print("reference venv ok:", sys.version.split()[0], "modAL", version("modAL-python"), "small-text", version("small-text"),
      "scikit-learn", sklearn.__version__, "numpy", numpy.__version__, "scipy", scipy.__version__)
PY
