"""Time one optimizer step: optbridge's TensorFlow backend vs Keras optimizers vs TF's fused ops.

One process, all configurations interleaved (each repetition times every configuration
once, in turn), median over ``--repeat`` repetitions after ``--warmup`` untimed steps.
Rows: SGD with momentum, Adam, AdamW, RMSprop and Adagrad (where optbridge has a kernel)
on three float32 layouts: the 161 ResNet-50 tensors (25.6M parameters), 2,000 tensors of
512 elements, and one tensor of 25.6M elements. Columns:

* ``optbridge`` — ``optbridge.build(spec, variables)`` with its defaults (optbridge's
  native single-pass op where the kernel has one, else TensorFlow's fused
  ``ResourceApply*`` op where it computes the canonical formula, else the compiled graph
  kernel), stepped eagerly (the gradients are passed into the step function);
  ``ob-tf.function`` — the same step inside a ``tf.function`` that closes over the
  gradients, as the Keras and raw-op columns do (host scalars via ``tf.numpy_function``);
  ``ob-graph`` — native and fused ops off (TensorFlow-op graph kernels); ``ob-xla`` —
  native and fused ops off, XLA on (one cluster per
  variable; not bitwise: XLA on CPU contracts ``a·b + c`` into fused multiply-adds);
* ``keras-eager`` / ``keras-tf.function`` / ``keras-xla`` — ``keras.optimizers.<X>.apply``
  eagerly, inside ``tf.function`` and inside ``tf.function(jit_compile=True)``;
* ``raw-op`` — ``tf.raw_ops.ResourceApply*`` per variable in one ``tf.function`` (none for
  AdamW).

Ratios: the faster optbridge column (eager or ``tf.function``) / the fastest Keras
column, and / the raw op; ``xla/xla`` is ``ob-xla`` / ``keras-xla`` (both contract
``a·b + c`` into fused multiply-adds, so neither is bitwise equal to its graph form). Like is compared with like: each row's optbridge spec is the
Keras-dialect class with the Keras optimizer's arguments
(``optbridge.dialects.keras.optimizers.AdamW(1e-3, weight_decay=0.004)`` against
``keras.optimizers.AdamW(1e-3, weight_decay=0.004)``), so optbridge computes Keras's
formula bit for bit. The raw op is the speed reference: ``ResourceApplyKerasMomentum``
is Keras SGD's formula; ``ResourceApplyAdam``, ``ResourceApplyRMSProp`` and
``ResourceApplyAdagradV2`` do the same work in other roundings (``1 − β`` formed in
float32, ε outside the square root), which optbridge's Keras forms may not use. The
machine is shared: the load average is printed; rerun on a quiet machine for numbers
to quote.

    python benchmarks/tensorflow_step.py --repeat 20
    python benchmarks/tensorflow_step.py --layouts many --rows Adam --repeat 5
    python benchmarks/tensorflow_step.py --device /GPU:0    # variables and gradients on the GPU
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

from optbridge.conformance import layouts  # noqa: E402
from optbridge.dialects.keras import optimizers as K  # noqa: E402
from optbridge.plugin import get_backend  # noqa: E402
from optbridge.backends.tensorflow.optimizer import TensorFlowOptimizer  # noqa: E402

LAYOUTS = {
    "resnet50": [shape for _, shape in layouts.resnet50],
    "many": [(512,)] * 2000,
    "big": [(25_600_000,)],
    "tiny": [shape for _, shape in layouts.tiny],  # smoke test only
}
LR = 1e-3


ROWS = {
    "SGD-momentum": dict(spec=lambda: K.SGD(LR, momentum=0.9), keras=lambda: keras.optimizers.SGD(LR, momentum=0.9),
                         raw=lambda v, s, g: tf.raw_ops.ResourceApplyKerasMomentum(
                             var=v.handle, accum=s[0].handle, lr=LR, grad=g, momentum=0.9), slots=1),
    "Adam": dict(spec=lambda: K.Adam(LR), keras=lambda: keras.optimizers.Adam(LR),
                 raw=lambda v, s, g: tf.raw_ops.ResourceApplyAdam(
                     var=v.handle, m=s[0].handle, v=s[1].handle, beta1_power=0.9, beta2_power=0.999, lr=LR,
                     beta1=0.9, beta2=0.999, epsilon=1e-7, grad=g), slots=2),
    "AdamW": dict(spec=lambda: K.AdamW(LR, weight_decay=0.004), keras=lambda: keras.optimizers.AdamW(LR, weight_decay=0.004),
                  raw=None, slots=2),
    "RMSprop": dict(spec=lambda: K.RMSprop(LR), keras=lambda: keras.optimizers.RMSprop(LR),
                    raw=lambda v, s, g: tf.raw_ops.ResourceApplyRMSProp(
                        var=v.handle, ms=s[0].handle, mom=s[1].handle, lr=LR, rho=0.9, momentum=0.0, epsilon=1e-7,
                        grad=g), slots=2),
    "Adagrad": dict(spec=lambda: K.Adagrad(LR), keras=lambda: keras.optimizers.Adagrad(LR),
                    raw=lambda v, s, g: tf.raw_ops.ResourceApplyAdagradV2(
                        var=v.handle, accum=s[0].handle, lr=LR, epsilon=1e-7, grad=g), slots=1),
}


def _configs(row, params, grads, kernels):
    """``{column: zero-argument step callable}`` for one row; each column has its own variables."""
    def fresh():
        return [tf.Variable(p) for p in params]

    out = {}
    spec = row["spec"]().to_canonical()
    if spec.algorithm.name in kernels:
        for column, options in (("optbridge", {}), ("ob-graph", {"fused": False, "native": False}),
                                ("ob-xla", {"fused": False, "jit_compile": True})):
            variables = fresh()
            opt = TensorFlowOptimizer(spec, [(f"p{i}", v) for i, v in enumerate(variables)], kernels, **options)
            out[column] = (lambda opt=opt: opt.step(grads))
        variables = fresh()
        opt = TensorFlowOptimizer(spec, [(f"p{i}", v) for i, v in enumerate(variables)], kernels)
        out["ob-tf.function"] = tf.function(_optbridge_step(opt, grads))
    for column, compile_mode in (("keras-eager", None), ("keras-tf.function", False), ("keras-xla", True)):
        apply = _keras_step(row, params, grads)
        out[column] = apply if compile_mode is None else tf.function(apply, jit_compile=compile_mode)
    if row["raw"] is not None:
        out["raw-op"] = tf.function(_raw_step(row, fresh(), params, grads))
    return out


def _optbridge_step(opt, grads):
    def step():
        opt.step(grads)

    return step


def _keras_step(row, params, grads):
    variables = [keras.Variable(p) for p in params]
    opt = row["keras"]()
    opt.build(variables)

    def apply():
        opt.apply(grads, variables)

    return apply


def _raw_step(row, variables, params, grads):
    slots = [[tf.Variable(tf.zeros_like(p)) for _ in range(row["slots"])] for p in params]

    def raw():
        for v, s, g in zip(variables, slots, grads):
            row["raw"](v, s, g)

    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", nargs="+", default=["resnet50", "many", "big"], choices=list(LAYOUTS))
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="/CPU:0", help="where variables and gradients live: /CPU:0, /GPU:0, ...")
    args = parser.parse_args()
    kernels = get_backend("tensorflow").kernels
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, {os.cpu_count()} CPUs, GPUs {gpus}, "
          f"device {args.device}, load average {tuple(round(x, 2) for x in os.getloadavg())}")
    with tf.device(args.device):
        run(args, kernels)
    print(f"load average at the end {tuple(round(x, 2) for x in os.getloadavg())}")


def _timed(fn) -> float:
    """Seconds for one call of ``fn``, its device work included (``sync_devices`` waits for GPUs)."""
    tf.test.experimental.sync_devices()
    start = time.perf_counter()
    fn()
    tf.test.experimental.sync_devices()
    return time.perf_counter() - start


def run(args, kernels) -> None:
    """Print the table: one line per layout and row."""
    columns = ["optbridge", "ob-tf.function", "ob-graph", "ob-xla", "keras-eager", "keras-tf.function", "keras-xla", "raw-op"]
    print(f"{'layout':9s} {'row':13s} " + " ".join(f"{c:>17s}" for c in columns) + f" {'/keras':>7s} {'xla/xla':>7s} {'/raw':>6s}")
    rng = np.random.default_rng(0)
    for layout in args.layouts:
        shapes = LAYOUTS[layout]
        params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        grads = [tf.constant(rng.standard_normal(s).astype(np.float32) * 1e-3) for s in shapes]
        for name in args.rows:
            configs = _configs(ROWS[name], params, grads, kernels)
            for fn in configs.values():
                for _ in range(args.warmup):
                    fn()
            times = {c: [] for c in configs}
            for _ in range(args.repeat):
                for column, fn in configs.items():
                    times[column].append(_timed(fn))
            ms = {c: statistics.median(t) * 1e3 for c, t in times.items()}
            keras_best = min(ms[c] for c in ms if c.startswith("keras"))
            ours = min((ms[c] for c in ("optbridge", "ob-tf.function") if c in ms), default=None)
            ratio_keras = f"{ours / keras_best:7.2f}" if ours else f"{'-':>7s}"
            ratio_raw = f"{ours / ms['raw-op']:6.2f}" if ours and "raw-op" in ms else f"{'-':>6s}"
            ratio_xla = f"{ms['ob-xla'] / ms['keras-xla']:7.2f}" if "ob-xla" in ms else f"{'-':>7s}"
            cells = " ".join(f"{ms[c]:17.2f}" if c in ms else f"{'-':>17s}" for c in columns)
            print(f"{layout:9s} {name:13s} {cells} {ratio_keras} {ratio_xla} {ratio_raw}", flush=True)
            del configs


if __name__ == "__main__":
    main()
