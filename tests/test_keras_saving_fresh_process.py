"""A Keras model saved with ``optbridge.keras(spec)`` loads in a fresh process after ``import optbridge``.

Before, ``keras.saving.load_model`` in a process that had not built an optbridge Keras
optimizer raised ``TypeError: Could not locate class 'KerasOptimizer'``. Each case saves a
trained model here, trains it on here, and loads it in a new Python process (``import
optbridge`` before or after ``import keras``; nothing else of optbridge) that trains it
on with the same batches: the weights must be the ones this process reached, bit for bit
(the optimizer's slots and host state, a warm-up schedule's position included).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import optbridge  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402

X = np.random.default_rng(0).standard_normal((32, 6)).astype("float32")
Y = np.tanh(X[:, :1] - 0.5 * X[:, 1:2])

LOADER = textwrap.dedent("""
    import sys
    import numpy as np
    {imports}
    model = keras.saving.load_model(sys.argv[1])
    data = np.load(sys.argv[2])
    model.fit(data["x"], data["y"], batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.savez(sys.argv[3], *model.get_weights(), step=model.optimizer.optbridge.global_step)
""")


def trained_and_saved(tmp_path):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    spec = nn.Adam([{"params": "*hidden/*", "lr": 0.02}, {"params": "*"}], nn.WarmUpLR(0.01, 6), use_amsgrad=True)
    model.compile(optimizer=optbridge.keras(spec), loss="mse")
    model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.savez(tmp_path / "data.npz", x=X, y=Y)
    return path, model.get_weights(), model.optimizer.optbridge.global_step


@pytest.mark.parametrize("order", ["optbridge_first", "keras_first"])
def test_a_saved_model_loads_and_trains_on_in_a_fresh_process(tmp_path, order):
    path, weights, step = trained_and_saved(tmp_path)
    imports = ("import optbridge\nassert 'tensorflow' not in sys.modules, 'import optbridge imported TensorFlow'\n"
               "import keras" if order == "optbridge_first" else "import keras\nimport optbridge")
    script = LOADER.format(imports=imports)
    out = tmp_path / "after.npz"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "data.npz"), str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    after = np.load(out)
    assert int(after["step"]) == step == 8
    for i, expected in enumerate(weights):
        np.testing.assert_array_equal(after[f"arr_{i}"], expected)
