#!/usr/bin/env bash
# The tests that depend on Keras' behaviour, on the oldest Keras requirements.txt allows (README: "Which
# Keras"): in a second environment with exactly that Keras and a TensorFlow release that accepts it.
# The recorded losses, the freeze checks, resume, signals and collapse, the callbacks, the LSGAN's runs.
set -euo pipefail
cd "$(dirname "$0")/.."
keras=$(sed -n 's/^keras>=\([0-9.]*\).*/\1/p' requirements.txt)
tensorflow=2.19.1      # accepts Keras 3.5 and later; Colab ran TensorFlow 2.19 until mid-2025
venv=${KERAS_GANS_FLOOR_VENV:-${TMPDIR:-/tmp}/keras-gans-floor}
[ -x "$venv/bin/python" ] || python -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "keras==$keras" "tensorflow==$tensorflow" \
    matplotlib "scipy>=1.10" tensorboard pytest
"$venv/bin/python" -c "import keras, tensorflow; print('floor: Keras', keras.__version__, '+ TensorFlow', tensorflow.__version__)"
KERAS_GANS_VARIANTS=published "$venv/bin/python" -m pytest -p no:cacheprovider tests/test_keras_versions.py \
    tests/freeze_checks.py tests/test_runs.py tests/test_callbacks.py tests/test_lsgan.py
