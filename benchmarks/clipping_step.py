"""Time one step with global-norm clipping: optbridge against each framework's own clipping.

Issue: a spec's gradient transforms (:mod:`optbridge.transforms`) must cost no more than
the framework's own way to clip. In one process, interleaved (each repetition times every
configuration once, in turn), median of ``--repeat`` after ``--warmup`` untimed steps, on the
161 float32 ResNet-50 parameter shapes (25.6M parameters):

* **torch** — ``torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)`` then fused
  ``torch.optim.Adam`` (``fused=True``), against the torch backend's ``Adam`` spec with
  ``ClipByGlobalNorm(1.0)`` (its default path: torch's total norm, ``_foreach_mul_`` on
  ``.grad`` in place as ``clip_grad_norm_`` does, the fused Adam kernel); the same two
  without clipping show what clipping adds.
  Every configuration first copies the step's gradients into ``.grad`` (``clip_grad_norm_``
  scales them in place; a training loop's backward writes fresh ones each step);
* **TensorFlow** — ``keras.optimizers.Adam(global_clipnorm=1.0).apply`` inside a
  ``tf.function`` against ``optbridge.build`` of the Keras-dialect ``Adam(global_clipnorm=1.0)``
  stepped eagerly (its step is one traced ``tf.function``).

Ratios are optbridge / native (target: torch ≤ 1.1, TensorFlow ≤ 1.0). The load average is
printed before and after: rerun on a quiet machine for numbers to quote.

    python benchmarks/clipping_step.py --repeat 20
    python benchmarks/clipping_step.py --frameworks torch --repeat 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import optbridge
from optbridge import transforms
from optbridge.conformance import layouts

MAX_NORM = 1.0


def _shapes(layout: str) -> list[tuple[int, ...]]:
    return [tuple(s) for _, s in layouts.get_layout(layout)]


def _arrays(shapes: list[tuple[int, ...]], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def _median(step: Callable[[], object], times: list[float]) -> None:
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)


def torch_configs(shapes: list[tuple[int, ...]]) -> dict[str, Callable[[], object]]:
    import torch

    from optbridge.dialects.torch import optim

    grads = [torch.from_numpy(g) for g in _arrays(shapes, 1)]

    def params() -> list[torch.nn.Parameter]:
        ps = [torch.nn.Parameter(torch.from_numpy(a)) for a in _arrays(shapes, 0)]
        for p, g in zip(ps, grads):
            p.grad = g.clone()
        return ps

    native_ps, plain_ps, ours_ps, ours_plain_ps = params(), params(), params(), params()
    native = torch.optim.Adam(native_ps, lr=1e-3, fused=True)
    plain = torch.optim.Adam(plain_ps, lr=1e-3, fused=True)
    spec = optim.Adam(None, lr=1e-3)
    ours = optbridge.build(spec.with_transforms(transforms.ClipByGlobalNorm(MAX_NORM)),
                           [(f"p{i}", p) for i, p in enumerate(ours_ps)], backend="torch")
    ours_plain = optbridge.build(spec, [(f"p{i}", p) for i, p in enumerate(ours_plain_ps)], backend="torch")

    def refreshed(ps: list[torch.nn.Parameter], step: Callable[[], object]) -> Callable[[], None]:
        # a training loop's backward writes fresh gradients every step, and clip_grad_norm_
        # scales .grad in place: every configuration copies the gradients in first, alike
        def run() -> None:
            torch._foreach_copy_([p.grad for p in ps], grads)
            step()
        return run

    def native_step() -> None:
        torch.nn.utils.clip_grad_norm_(native_ps, MAX_NORM, foreach=True)
        native.step()

    return {"torch clip_grad_norm_ + fused Adam": refreshed(native_ps, native_step),
            "optbridge Adam + ClipByGlobalNorm": refreshed(ours_ps, ours.step),
            "torch fused Adam (no clip)": refreshed(plain_ps, plain.step),
            "optbridge Adam (no clip)": refreshed(ours_plain_ps, ours_plain.step)}


def tensorflow_configs(shapes: list[tuple[int, ...]]) -> dict[str, Callable[[], object]]:
    import keras
    import tensorflow as tf

    from optbridge.dialects.keras import optimizers

    grads = [tf.constant(g) for g in _arrays(shapes, 1)]
    native_vars = [keras.Variable(a, name=f"p{i}") for i, a in enumerate(_arrays(shapes, 0))]
    ours_vars = [tf.Variable(a, name=f"p{i}") for i, a in enumerate(_arrays(shapes, 0))]
    native = keras.optimizers.Adam(learning_rate=1e-3, global_clipnorm=MAX_NORM)
    native.build(native_vars)
    apply = tf.function(lambda: native.apply(grads, native_vars))
    ours = optbridge.build(optimizers.Adam(learning_rate=1e-3, global_clipnorm=MAX_NORM),
                           [(f"p{i}", v) for i, v in enumerate(ours_vars)], backend="tensorflow")
    return {"keras Adam(global_clipnorm) tf.function": apply,
            "optbridge Adam(global_clipnorm)": lambda: ours.step(grads)}


def run(name: str, configs: dict[str, Callable[[], object]], repeat: int, warmup: int) -> None:
    for step in configs.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {k: [] for k in configs}
    for _ in range(repeat):
        for key, step in configs.items():
            _median(step, times[key])
    medians = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"\n{name} (float32, median of {repeat}):")
    for key, ms in medians.items():
        print(f"  {key:45s} {ms:8.2f} ms")
    keys = list(medians)
    print(f"  ratio optbridge / native: {medians[keys[1]] / medians[keys[0]]:.3f}")
    if len(keys) == 4:
        print(f"  ratio without clipping:   {medians[keys[3]] / medians[keys[2]]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="+", default=["torch", "tensorflow"], choices=["torch", "tensorflow"])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--layout", default="resnet50", choices=["resnet50", "tiny"],
                        help="the parameter shapes (tiny: to check that the script runs)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    shapes = _shapes(args.layout)
    if "torch" in args.frameworks:
        run("torch", torch_configs(shapes), args.repeat, args.warmup)
    if "tensorflow" in args.frameworks:
        run("TensorFlow", tensorflow_configs(shapes), args.repeat, args.warmup)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
