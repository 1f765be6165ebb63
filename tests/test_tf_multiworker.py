"""The TensorFlow backend under ``tf.distribute.MultiWorkerMirroredStrategy``: 2 workers, one launch.

Two worker processes on this machine (``TF_CONFIG`` with two free localhost ports, gRPC
collectives on CPU) train with the strategy, then each runs part of the same training on
one worker with the global batch of 16 (the default strategy, in the same process; worker
0 the custom loop, worker 1 ``model.fit``). The custom loop is the TensorFlow tutorial's
(``distribute_datasets_from_function``, ``strategy.run`` with a tape,
``tf.nn.compute_average_loss`` over the global batch, ``apply_gradients`` in replica
context: the gradients summed over the workers); it trains one model per optimizer, all
in one step function (one trace, which keeps the launch short). Keras ``model.fit`` runs
with ``optbridge.keras``.

Two kinds of comparison, each stated:

* **exact** (``linear_*``): the loss is linear in every variable (``Σ c·(x·W + b)`` over
  two parallel ``Dense`` layers, integer data in [-2, 2], batches of powers of two), so
  every gradient is a sum of small multiples of 1/16: exactly representable however the
  all-reduce and the batch sums are ordered. The 2-worker run must equal the 1-worker
  run on the global batch bit for bit: AMSGrad Adam with two groups and a warm-up schedule
  (MindSpore dialect; its whole neutral state dict too), SGD with Nesterov momentum,
  weight decay and two groups (torch dialect; three ways: ``apply_gradients`` in replica
  context, ``apply_gradients`` in cross-replica context with gradients reduced by
  ``strategy.reduce``, ``step`` in replica context with gradients the loop summed with
  ``all_reduce`` on an optimizer built outside the scope), and ``model.fit`` with
  Momentum in two groups whose learning rates a Keras ``LearningRateScheduler`` halves
  for the second epoch (on each worker).
* **against Keras** (``tanh_*``): a ``tanh`` network with an MSE loss, whose gradient sums
  round differently when split over two workers. optbridge's Keras-dialect Adam (custom
  loop) and SGD with momentum (``model.fit``) must equal ``keras.optimizers.Adam`` /
  ``SGD`` run in the same 2-worker set-up bit for bit, and the 1-worker run within
  float32 rounding of the gradient sums (measured: Adam 1 ulp; SGD relative 1.6e-6,
  absolute 1.8e-7).

Keras 3.15's ``model.fit`` fails under this strategy before the first step, with Keras's
own optimizers too (keras-team/keras#20585: ``strategy.reduce`` is given the first batch
as a nest, and scalar logs with ``axis=0``); the worker script reduces leaf by leaf, as
``docs/backends-tensorflow.md`` shows.

Bounded: one launch (a second only when a worker could not bind its port: it was taken
between choosing and binding it); each worker's process group is killed on a timeout or
when the other fails, and reaped, so no process outlives the test. TensorFlow's gRPC
server listens on ``0.0.0.0`` whatever host ``TF_CONFIG`` names (hard-coded in
TensorFlow), for the seconds the test runs. Skipped where TensorFlow or Keras is not installed.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
    pytest.skip("needs tensorflow and keras", allow_module_level=True)

#: seconds the two workers may take (together about 27 s of CPU: under a minute on 2 cores at load 10)
TIMEOUT = 120

WORKER = r'''import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any op: it configures the collectives
task = strategy.cluster_resolver.task_id

import keras
import optbridge
from optbridge.dialects.keras import optimizers as kopt
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim


def leafwise(reduce):
    """Keras 3's model.fit under MultiWorkerMirroredStrategy (keras-team/keras#20585)."""
    def wrapped(reduce_op, value, axis=None):
        return tf.nest.map_structure(
            lambda v: reduce(reduce_op, v, None if axis is None or v.shape.rank == 0 else axis), value)
    return wrapped


strategy.reduce = leafwise(strategy.reduce)
GLOBAL_BATCH = 16
rng = np.random.default_rng(5)
DATA = {  # (inputs, targets) of each model kind
    "linear": (rng.integers(-2, 3, (64, 6)).astype("float32"), rng.integers(-2, 3, (64, 4)).astype("float32")),
    "tanh": (rng.standard_normal((64, 6)).astype("float32"), rng.standard_normal((64, 1)).astype("float32")),
}
INIT = {"linear": [rng.integers(-4, 5, s).astype("float32") / 4 for s in ((6, 4), (4,), (6, 4), (4,))],
        "tanh": [rng.standard_normal(s).astype("float32") for s in ((6, 4), (4,), (4, 1), (1,))]}


def linear_loss(y, pred):
    return tf.reduce_sum(y * pred, axis=-1)


def squared_loss(y, pred):
    return tf.reduce_sum((pred - y) ** 2, axis=-1)


def make_model(kind):
    inputs = keras.Input((6,))
    if kind == "linear":  # linear in every variable: the gradients do not depend on them
        out = keras.layers.Add()([keras.layers.Dense(4, name=name)(inputs) for name in ("hidden", "skip")])
    else:
        out = keras.layers.Dense(1, name="out")(keras.layers.Dense(4, activation="tanh", name="hidden")(inputs))
    model = keras.Model(inputs, out, name="net")
    model.set_weights(INIT[kind])
    return model


def custom(strategy, optimizers, epochs=2):
    """Train one model per ``{name: (kind, make_optimizer)}`` in one loop (one step function for all).

    A ``*_step`` optimizer is built outside the strategy's scope (on variables created in it)
    and takes the gradients summed by the caller (``all_reduce``) through ``step``; a
    ``*_cross`` one takes them reduced with ``strategy.reduce``, in cross-replica context.
    """
    with strategy.scope():
        models = {name: make_model(kind) for name, (kind, _) in optimizers.items()}
        opts = {name: make(models[name]) for name, (_, make) in optimizers.items() if not name.endswith("_step")}
    opts.update({name: make(models[name]) for name, (_, make) in optimizers.items() if name.endswith("_step")})

    def dataset_fn(context):
        ds = tf.data.Dataset.from_tensor_slices(DATA)
        ds = ds.shard(context.num_input_pipelines, context.input_pipeline_id)
        return ds.batch(context.get_per_replica_batch_size(GLOBAL_BATCH))

    batches = strategy.distribute_datasets_from_function(dataset_fn)

    def replica_step(batch):
        cross = {}
        for name, (kind, _) in optimizers.items():
            model, (x, y) = models[name], batch[kind]
            with tf.GradientTape() as tape:
                per_example = (linear_loss if kind == "linear" else squared_loss)(y, model(x))
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=GLOBAL_BATCH)
            grads = tape.gradient(loss, model.trainable_variables)
            if name.endswith("_step"):
                summed = tf.distribute.get_replica_context().all_reduce("sum", grads)
                opts[name].step({v.path: g for v, g in zip(model.trainable_variables, summed)})
            elif name.endswith("_cross"):
                cross[name] = grads
            else:
                opts[name].apply_gradients(zip(grads, model.trainable_variables))
        return cross

    @tf.function
    def train_step(batch):
        for name, grads in strategy.run(replica_step, args=(batch,)).items():
            summed = [strategy.reduce("SUM", g, axis=None) for g in grads]
            opts[name].apply_gradients(zip(summed, models[name].trainable_variables))

    lrs = {name: [] for name in optimizers}
    for _ in range(epochs):
        for batch in batches:
            train_step(batch)
        for name, opt in opts.items():
            lrs[name].append(opt.get_lr() if hasattr(opt, "get_lr") else None)
    out = {}
    for name, opt in opts.items():
        out[name] = {"weights": [w.tolist() for w in models[name].get_weights()], "lrs": lrs[name]}
        if hasattr(opt, "global_step"):
            out[name].update(step=opt.global_step, traces=opt.trace_count, state=plain(opt.state_dict()))
    return out


def plain(value):
    """``value`` (a state dict) with arrays as nested lists, for JSON."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value


def fit(strategy, kind, make_optimizer, callbacks=(), epochs=2):
    with strategy.scope():
        model = make_model(kind)
        model.compile(optimizer=make_optimizer(), loss=linear_loss if kind == "linear" else "mse")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = tf.data.Dataset.from_tensor_slices(DATA[kind]).batch(GLOBAL_BATCH).with_options(options)
    model.fit(ds, epochs=epochs, verbose=0, callbacks=list(callbacks))
    out = {"weights": [w.tolist() for w in model.get_weights()]}
    if hasattr(model.optimizer, "optbridge"):
        out.update(step=model.optimizer.optbridge.global_step, lrs=model.optimizer.optbridge.get_lr())
    return out


SGD = optim.SGD([{"params": ["hidden/kernel", "skip/kernel"], "weight_decay": 0.01},
                 {"params": ["hidden/bias", "skip/bias"], "lr": 0.2}], lr=0.05, momentum=0.9, nesterov=True)
CUSTOM = {
    "linear_adam": ("linear", lambda model: optbridge.build(
        nn.Adam([{"params": "*hidden/*", "lr": 0.02}, {"params": "*"}], nn.WarmUpLR(0.01, 5), use_amsgrad=True),
        model)),
    "linear_sgd": ("linear", lambda model: optbridge.build(SGD, model)),
    "linear_step": ("linear", lambda model: optbridge.build(SGD, model.trainable_variables)),
    "linear_cross": ("linear", lambda model: optbridge.build(SGD, model)),
    "tanh_adam": ("tanh", lambda model: optbridge.build(kopt.Adam(0.01), model)),
}
HALVE = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
FIT = {
    "linear_fit": ("linear", lambda: optbridge.keras(
        nn.Momentum([{"params": "*hidden/*", "lr": 0.05}, {"params": "*"}], 0.1, 0.9)), [HALVE]),
    "tanh_fit": ("tanh", lambda: optbridge.keras(kopt.SGD(0.05, momentum=0.9)), []),
}
KERAS_CUSTOM = {"tanh_adam": ("tanh", lambda model: keras.optimizers.Adam(0.01))}
KERAS_FIT = {"tanh_fit": ("tanh", lambda: keras.optimizers.SGD(0.05, momentum=0.9), [])}

result = {"replicas": strategy.num_replicas_in_sync}
ours = custom(strategy, {**CUSTOM, **{"keras_" + n: v for n, v in KERAS_CUSTOM.items()}})
result["multi"] = {n: ours[n] for n in CUSTOM}
result["keras"] = {n: ours["keras_" + n] for n in KERAS_CUSTOM}
result["multi"].update({name: fit(strategy, *how) for name, how in FIT.items()})
result["keras"].update({name: fit(strategy, *how) for name, how in KERAS_FIT.items()})
single = tf.distribute.get_strategy()  # outside the scope: one worker, the global batch
if task == 0:
    result["single"] = custom(single, CUSTOM)
else:
    result["single"] = {name: fit(single, *how) for name, how in FIT.items()}
print("RESULT " + json.dumps(result), flush=True)
'''


def test_the_docs_show_the_fit_workaround_this_test_runs():
    page = (Path(__file__).resolve().parents[1] / "docs" / "backends-tensorflow.md").read_text(encoding="utf-8")
    start = page.index("def leafwise(reduce):")
    shown = page[start:page.index("strategy.reduce = leafwise(strategy.reduce)", start)]
    assert shown in WORKER


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _launch(folder: Path, script: Path) -> tuple[list[int | None], list[str]]:
    """Run the two workers on two free localhost ports: their exit codes (``None``: killed
    at the deadline) and outputs. A failed worker has the other killed at once (it would
    wait for it in a collective until the deadline)."""
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers, logs, codes = [], [], []
    try:
        for index in range(2):
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                       TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
            log = open(folder / f"worker{index}.log", "w+")
            logs.append(log)
            workers.append(subprocess.Popen([sys.executable, str(script)], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=folder, start_new_session=True))
        deadline = time.monotonic() + TIMEOUT
        while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
            if any(w.poll() not in (None, 0) for w in workers):
                break
            time.sleep(0.2)
        codes = [w.poll() for w in workers]
    finally:
        for w in workers:
            _kill(w)
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
        log.close()
    return codes, outputs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multiworker")
    script = folder / "worker.py"
    script.write_text(WORKER)
    codes, outputs = _launch(folder, script)
    if any("Could not start gRPC server" in text for text in outputs):  # a port was taken since it was free
        codes, outputs = _launch(folder, script)
    for index, (code, text) in enumerate(zip(codes, outputs)):
        assert code == 0, f"worker {index} {'was killed' if code is None else f'exited with {code}'}:\n{text[-6000:]}"
    return [json.loads(next(line for line in text.splitlines() if line.startswith("RESULT "))[len("RESULT "):])
            for text in outputs]


def _same(a, b) -> bool:
    """Bit for bit, as float32."""
    return all(np.array_equal(np.asarray(x, np.float32), np.asarray(y, np.float32)) for x, y in zip(a, b))


def test_two_workers_train_in_sync(runs):
    assert [r["replicas"] for r in runs] == [2, 2]
    assert runs[0]["multi"] == runs[1]["multi"]  # both workers hold the same weights, state and schedule
    assert runs[0]["keras"] == runs[1]["keras"]


@pytest.mark.parametrize("name", ["linear_adam", "linear_sgd", "linear_step", "linear_cross", "linear_fit"])
def test_exact_gradients_equal_the_one_worker_run_bit_for_bit(runs, name):
    single = runs[1 if name.endswith("_fit") else 0]["single"][name]
    multi = runs[0]["multi"][name]
    assert multi["step"] == single["step"] == 8
    assert multi["lrs"] == single["lrs"]
    assert _same(multi["weights"], single["weights"])


@pytest.mark.parametrize("name", ["linear_step", "linear_cross"])
def test_gradients_reduced_by_the_caller_give_the_same_training(runs, name):
    assert runs[0]["multi"][name] == runs[0]["multi"]["linear_sgd"]


def test_a_keras_callback_sets_the_learning_rate_on_every_worker(runs):
    multi, single = runs[0]["multi"]["linear_fit"], runs[1]["single"]["linear_fit"]
    assert multi["lrs"] == single["lrs"]
    assert multi["lrs"] == pytest.approx([0.025, 0.05])  # halved for the second epoch, groups scaled alike


def test_custom_loop_state_and_schedule(runs):
    multi, single = runs[0]["multi"]["linear_adam"], runs[0]["single"]["linear_adam"]
    assert multi["state"] == single["state"]  # the neutral state dict: slots, counters, schedule
    assert multi["traces"] == single["traces"] == 1
    assert multi["lrs"][0][1] < multi["lrs"][1][1]  # the second group warms up over 5 steps


@pytest.mark.parametrize("name", ["tanh_adam", "tanh_fit"])
def test_rounded_gradients_equal_keras_bit_for_bit(runs, name):
    multi, keras_run = runs[0]["multi"][name], runs[0]["keras"][name]
    assert _same(multi["weights"], keras_run["weights"])
    single = runs[1 if name.endswith("_fit") else 0]["single"][name]
    assert multi["step"] == single["step"] == 8
    for got, want in zip(multi["weights"], single["weights"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
