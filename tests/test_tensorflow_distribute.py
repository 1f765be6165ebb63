"""The TensorFlow backend under ``tf.distribute.MirroredStrategy`` with two logical CPU devices.

TensorFlow fixes its logical devices when it first initialises, so the runs happen in a
fresh interpreter: a custom ``strategy.run`` loop (``apply_gradients`` in replica
context: gradients summed over replicas, each replica's copy updated; ``step`` in replica
context with gradients the loop summed itself) and Keras
``model.fit`` with ``optbridge.keras``; each is compared with the same training on one
device. Summing per-replica gradients changes the float32 rounding of the gradient sums,
so the comparison allows a few float32 ulps.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

SCRIPT = r'''import os, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, optbridge
from optbridge.dialects.mindspore import nn

rng = np.random.default_rng(0)
x = rng.standard_normal((64, 6)).astype("float32"); y = (x @ rng.standard_normal((6, 1))).astype("float32")
init = {"w": rng.standard_normal((6, 4)).astype("float32"), "v": rng.standard_normal((4, 1)).astype("float32")}
spec = nn.Adam([{"params": "w", "lr": 0.02}, {"params": "*"}], 0.01, use_amsgrad=True)

def custom_loop(strategy, summed_by_caller=False):
    with strategy.scope():
        params = {n: tf.Variable(a, name=n) for n, a in init.items()}
        opt = optbridge.build(spec, params)
    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((tf.tanh(xb @ params["w"]) @ params["v"] - yb) ** 2) / 64.0
        grads = tape.gradient(loss, [params["w"], params["v"]])
        if summed_by_caller:
            opt.step(dict(zip(("w", "v"), tf.distribute.get_replica_context().all_reduce("sum", grads))))
        else:
            opt.apply_gradients(zip(grads, [params["w"], params["v"]]))
    @tf.function
    def step(xb, yb):
        strategy.run(replica_step, args=(xb, yb))
    ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(16))
    for _ in range(3):
        for xb, yb in ds:
            step(xb, yb)
    devices = sorted({c.device for n in ("w", "v") for s in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
                      for c in strategy.experimental_local_results(opt.slot(n, s))})
    comps = [np.stack([c.numpy() for c in strategy.experimental_local_results(params[n])]) for n in ("w", "v")]
    return {"w": params["w"].numpy().tolist(), "v": params["v"].numpy().tolist(), "step": opt.global_step,
            "slot_devices": devices, "replicas_equal": all(bool(np.array_equal(c[0], c[-1])) for c in comps),
            "traces": opt.trace_count}

def keras_fit(strategy):
    with strategy.scope():
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="tanh", name="hidden"),
                                  keras.layers.Dense(1, name="out")], name="net")
        model.set_weights([init["w"], np.zeros(4, "float32"), init["v"], np.zeros(1, "float32")])
        model.compile(optimizer=optbridge.keras(nn.Momentum([{"params": "*hidden/*", "lr": 0.05}, {"params": "*"}], 0.1, 0.9)),
                      loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return {"weights": [w.tolist() for w in model.get_weights()], "step": model.optimizer.optbridge.global_step}

mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
single = tf.distribute.get_strategy()
out = {"custom": {"mirrored": custom_loop(mirrored), "single": custom_loop(single),
                  "step": custom_loop(mirrored, summed_by_caller=True)},
       "keras": {"mirrored": keras_fit(mirrored), "single": keras_fit(single)},
       "replicas": mirrored.num_replicas_in_sync}
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("mirrored") / "mirrored.py"
    path.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    line = next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_two_replicas(runs):
    assert runs["replicas"] == 2


def test_custom_loop_equals_the_single_device_run(runs):
    mirrored, single = runs["custom"]["mirrored"], runs["custom"]["single"]
    assert mirrored["step"] == single["step"] == 12
    for name in ("w", "v"):
        np.testing.assert_allclose(mirrored[name], single[name], rtol=2e-6, atol=1e-7, err_msg=name)


def test_step_in_replica_context_takes_the_gradients_the_caller_summed(runs):
    step, applied = runs["custom"]["step"], runs["custom"]["mirrored"]
    assert step["replicas_equal"] and step["step"] == 12
    for name in ("w", "v"):
        np.testing.assert_array_equal(step[name], applied[name], err_msg=name)


def test_state_lives_on_every_replica_device_and_replicas_agree(runs):
    mirrored = runs["custom"]["mirrored"]
    assert [d.rsplit(":", 2)[-2:] for d in mirrored["slot_devices"]] == [["CPU", "0"], ["CPU", "1"]]
    assert mirrored["replicas_equal"]
    assert mirrored["traces"] == 2  # one step function per replica device, traced once each


def test_keras_fit_equals_the_single_device_run(runs):
    mirrored, single = runs["keras"]["mirrored"], runs["keras"]["single"]
    assert mirrored["step"] == single["step"] == 8
    for got, want in zip(mirrored["weights"], single["weights"]):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)
