#!/usr/bin/env bash
# On the oldest Keras requirements.txt allows (README: "Which Keras"), in a second environment with exactly
# that Keras and a TensorFlow release that accepts it: first the same seeded run under the floor Keras and
# the newest on that TensorFlow (the same losses, to the last digit), then the tests that depend on Keras'
# behaviour: the recorded losses, the freeze checks, resume and collapse, the callbacks, the LSGAN's runs (not
# the tests marked keras_independent: signals, kill -9, a full disk, bad flags). One process (-n 0), as before the
# suite went to pytest-xdist.
set -euo pipefail
cd "$(dirname "$0")/.."
keras=$(sed -n 's/^keras>=\([0-9.]*\).*/\1/p' requirements.txt)
newest=$(python -c "import keras; print(keras.__version__)")  # this environment's, from requirements-dev.txt
tensorflow=2.19.1      # accepts Keras 3.5 and later; Colab ran TensorFlow 2.19 until mid-2025
venv=${KERAS_GANS_FLOOR_VENV:-${TMPDIR:-/tmp}/keras-gans-floor}
[ -x "$venv/bin/python" ] || python -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "keras==$keras" "tensorflow==$tensorflow" matplotlib "scipy>=1.10" tensorboard pillow pytest pytest-xdist

# The same seeded 30 LSGAN steps under Keras $keras and Keras $newest, both on TensorFlow $tensorflow.
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
"$venv/bin/python" -c "import sys; sys.path.insert(0, 'tests'); from conftest import tiny_data; tiny_data('$runs/data.npz', 'lsgan_mnist')"
for version in "$newest" "$keras"; do  # the floor last: the tests below run on it
    "${pip[@]}" --no-deps "keras==$version"
    "$venv/bin/python" lsgan_mnist.py --data "$runs/data.npz" --out "$runs/$version" --batch-size 16 --max-steps 30 \
        --seed 1 > "$runs/$version.log" 2>&1 || { cat "$runs/$version.log"; exit 1; }
done
cmp "$runs/$keras/history.csv" "$runs/$newest/history.csv"
echo "the same 30 seeded steps under Keras $keras and Keras $newest (TensorFlow $tensorflow): identical losses"

"$venv/bin/python" -c "import keras, tensorflow; print('floor: Keras', keras.__version__, '+ TensorFlow', tensorflow.__version__)"
KERAS_GANS_VARIANTS=published "$venv/bin/python" -m pytest -p no:cacheprovider -n 0 -m "not keras_independent" \
    tests/test_keras_versions.py \
    tests/freeze_checks.py tests/test_runs.py tests/test_callbacks.py tests/test_lsgan.py
