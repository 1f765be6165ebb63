"""Optimizer memory per parameter byte: state, and peak extra bytes during a step.

For each algorithm (SGD with momentum, Adam, AdamW, Adagrad, RMSprop, Adafactor, Lion) and
each backend (NumPy, torch, TensorFlow, JAX) prints two tables, beside ``torch.optim`` and
``keras.optimizers`` with the same hyperparameters on the same parameters (default: two
512×256 and two 256-element float32 tensors):

* **state** — the bytes of the optimizer's state arrays (slots; torch.optim's per-parameter
  ``step`` tensors and Keras's ``iterations``/``learning_rate`` variables included) over
  the bytes of the parameters;
* **peak** — the most memory the step allocates beyond what was allocated when it began
  (temporaries, new arrays), over the parameter bytes. Measured on the CPU with each
  framework's own allocator accounting:

  - NumPy: ``tracemalloc`` (NumPy reports its data buffers to it; Python objects the
    step creates are counted too, a few kB);
  - torch: the profiler's allocation events (``torch.profiler.profile(profile_memory=True)``:
    every CPU tensor allocation and free of the step, in order; the running sum's maximum);
  - TensorFlow and Keras: ``tf.config.experimental.get_memory_info("CPU:0")`` after
    ``reset_memory_stats`` (TensorFlow's CPU allocator keeps ``current`` and ``peak``).
    It counts allocations of at least 256 KiB only (TensorFlow 2.21: a 262,140-byte
    tensor is not counted, a 262,144-byte one is), so the temporaries of the 512×256
    tensors are seen and those of the 256-element ones (0.2 % of the parameter bytes)
    are not, for optbridge and Keras alike;
  - JAX: not measured — the CPU client keeps no allocator statistics
    (``jax.Device.memory_stats()`` is ``None``), so the column says ``n/a``.

Each optimizer takes two steps first (lazy state, tracing, compilation), then
``--repeat`` steps (default 3) are measured one by one, gradients made before each, and
the largest peak is shown (NumPy's and torch's peaks repeat exactly). TensorFlow's vary,
for optbridge and Keras alike, for two reasons: the graph executor runs independent ops
of a step concurrently, so which temporaries are alive together may vary; and the
allocator behind ``get_memory_info`` (oneDNN's, a BFC allocator for 256 KiB and more)
counts the chunk it hands out, which is larger than the request when it serves it from
a free chunk it does not split: with its free list shaped by what the process did before
(the other rows), a measured peak can be a fraction of a tensor above or below what the
step's tensors need (TensorFlow's allocation log, ``TF_CPP_VMODULE=log_memory=2``, shows
the requests). A value marked ``!`` is above the native optimizer's: the framework's
own (torch.optim for torch, Keras for TensorFlow), or for NumPy and JAX the lower of the
two. Lion has no torch.optim counterpart. This is a measurement, not a timed test;
``tests/test_benchmarks.py`` only checks that it runs.

What keeps optbridge's peaks down (the numbers are the same either way):

* NumPy evaluates a rule's elementwise writes and kept expressions in blocks of 16,384
  elements, or an eighth of a larger array (``Ops.blockwise_``/``Ops.blockwise``), and
  takes a float32 array's float64 norm without a float64 copy (``Ops.norm(x,
  "float64")``): the peak is what the rule keeps (Adafactor's update ``u``, whole
  because its norm scales the step) plus a few blocks;
* torch, compiled: a rule that reduces over each tensor (Adafactor, LAMB) runs its
  tensors in turn inside the graph, a sequence point between them
  (``optbridge.backends.torch.sequence``): inductor's one C++ function per graph
  allocates all its buffers first, so Adafactor's step kept every tensor's whole update
  (needed whole before its norm scales the step) alive at once, 1.0040 against
  torch.optim's 1.0010 on the default layout and 0.54 against 0.33 on the ResNet-50
  shapes; in turn, 0.502 and 0.195, with the same numbers and step time;
* TensorFlow runs the rule of a per-tensor algorithm one tensor after another, and each
  tensor's statements in program order (control dependencies: every write on a variable
  and every reduction is a sequence point the later ops wait for,
  ``ops.program_order``), as Keras's eager step runs its statements; otherwise the
  executor computes an expression the rule forms late (torch Adam's ``(1 − β₂)·g·g``, a
  read of the slot written next, Adafactor's decay product beside ``‖p‖``'s float64
  copy) early and keeps it alive beside the earlier statements' temporaries. On the
  default layout the step's requests then peak at two 512×256 tensors for Adam and Lion
  (1.00) and three for Adafactor (1.50), against Keras's three, three and four.

Measured on the default layout (TensorFlow and Keras: the lowest and highest value over
5 runs of ``--algorithms adam lion adafactor --backends tensorflow --natives keras``):
TensorFlow Adam 1.00–1.15, Lion 1.00, Adafactor 1.50–1.65, against Keras's 1.50–1.84,
1.50–2.00 and 2.00–2.50 (before program order: Adam 1.15–1.65, Lion 1.50, Adafactor
1.65–2.50, marked above Keras in 3 of the 5 runs for Adam and for Adafactor).

Rows above the native optimizer's:

* NumPy, SGD with momentum (about 0.07 on the default layout, torch.optim 0): torch
  writes ``p − lr·b`` in one fused kernel (``add_(b, alpha=−lr)``), which needs no
  temporary. The reference rounds ``lr·b`` before subtracting it, and NumPy has no ufunc
  for ``x − d·α`` (nor a multiply-add), so the product is stored between two ufunc
  calls. No memory the step already has can hold it: between the two calls four values
  per element are live — ``p`` (the operand being updated), ``b`` (the new momentum, kept
  as state), ``g`` (the caller's gradient, which the step does not write) and ``lr·b`` —
  and none can be recomputed from the others (rounding makes ``lr·b`` no image of ``b``
  one can invert). So a fourth buffer is needed; blocked, it is one block (plus Python
  objects): 64 KiB up to 131,072 elements, an eighth of a larger array; 0.07 of these
  1 MB of parameters, about 0.012 of ResNet-50's 102 MB (an eighth of its largest
  tensor). Smaller blocks would cost per-block Python overhead on large tensors
  (``benchmarks/numpy_step.py``).
* TensorFlow: none in what the step requests; a measured peak of either side may still
  land above the other's in one run (the allocator's chunk rounding above).

    python benchmarks/memory.py
    python benchmarks/memory.py --algorithms adam adafactor --backends numpy torch
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import tracemalloc
from collections.abc import Callable, Mapping
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from optbridge import plugin
from optbridge.dialects.keras import optimizers as keras_dialect
from optbridge.dialects.torch import optim as torch_dialect

LAYOUTS: dict[str, list[tuple[int, ...]]] = {
    "default": [(512, 256), (512, 256), (256,), (256,)],
    "tiny": [(8, 4), (4,)],
}
BACKENDS = ("numpy", "torch", "tensorflow", "jax")
NATIVES = ("torch.optim", "keras")
WARMUP = 2
LR = 1e-3

#: algorithm: (optbridge spec, torch.optim class name and kwargs or None, Keras class name and kwargs)
ALGORITHMS: dict[str, tuple[Callable[[], Any], tuple[str, dict] | None, tuple[str, dict]]] = {
    "sgd-momentum": (lambda: torch_dialect.SGD(None, lr=LR, momentum=0.9),
                     ("SGD", {"lr": LR, "momentum": 0.9}), ("SGD", {"learning_rate": LR, "momentum": 0.9})),
    "adam": (lambda: torch_dialect.Adam(None, lr=LR), ("Adam", {"lr": LR}), ("Adam", {"learning_rate": LR})),
    "adamw": (lambda: torch_dialect.AdamW(None, lr=LR), ("AdamW", {"lr": LR}), ("AdamW", {"learning_rate": LR})),
    "adagrad": (lambda: torch_dialect.Adagrad(None, lr=LR), ("Adagrad", {"lr": LR}),
                ("Adagrad", {"learning_rate": LR})),
    "rmsprop": (lambda: torch_dialect.RMSprop(None, lr=LR), ("RMSprop", {"lr": LR}),
                ("RMSprop", {"learning_rate": LR})),
    "adafactor": (lambda: torch_dialect.Adafactor(None, lr=LR), ("Adafactor", {"lr": LR}),
                  ("Adafactor", {"learning_rate": LR})),
    "lion": (lambda: keras_dialect.Lion(learning_rate=LR), None, ("Lion", {"learning_rate": LR})),
}

Measure = tuple[float, float | None]


def _arrays(shapes: list[tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"p{i}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}


def _grads(shapes: list[tuple[int, ...]], step: int) -> dict[str, np.ndarray]:
    return _arrays(shapes, 100 + step)


# -- peak measurement, per framework ------------------------------------------------------------
def _peak_tracemalloc(step: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def peak_torch(step: Callable[[], Any]) -> int:
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    gc.collect()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events: list[tuple[int, int]] = []

    def walk(event: Any) -> None:
        if event.typed[0] == _EventType.Allocation and event.typed[1].device.type == "cpu":
            events.append((event.start_time_ns, event.typed[1].alloc_size))
        for child in event.children:
            walk(child)

    for root in prof.profiler.kineto_results.experimental_event_tree():
        walk(root)
    running = peak = 0
    for _, size in sorted(events):
        running += size
        peak = max(peak, running)
    return peak


def _peak_tensorflow(step: Callable[[], Any]) -> int:
    import tensorflow as tf

    gc.collect()
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    tf.config.experimental.reset_memory_stats("CPU:0")
    step()
    return tf.config.experimental.get_memory_info("CPU:0")["peak"] - before


def _tensor_bytes(tensors: Any) -> int:
    """Bytes of distinct storages (a flat buffer's views counted once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


# -- one measurement each -----------------------------------------------------------------------
def measure_optbridge(backend_name: str, make_spec: Callable[[], Any], shapes: list[tuple[int, ...]],
                      repeat: int) -> Measure:
    backend = plugin.get_backend(backend_name)
    params = backend.make_params(_arrays(shapes, 0), "float32")
    opt = backend.build(make_spec().to_canonical(), params, backend.kernels)
    for k in range(WARMUP):
        ret = opt.step(backend.grads_from_numpy(_grads(shapes, k), params))
        if backend.functional:
            params = ret
    peak: Callable[[Callable[[], Any]], int] | None = {
        "numpy": _peak_tracemalloc, "torch": peak_torch, "tensorflow": _peak_tensorflow}.get(backend_name)
    peaks = []
    for k in range(WARMUP, WARMUP + repeat) if peak is not None else ():
        grads = backend.grads_from_numpy(_grads(shapes, k), params)
        peaks.append(peak(lambda grads=grads: opt.step(grads)))
    if backend_name == "torch":
        state = _tensor_bytes(t for s in opt.state.values() for t in s.values() if hasattr(t, "untyped_storage"))
    elif backend_name == "tensorflow":
        state = sum(int(np.prod(v.shape)) * v.dtype.size for v in opt.variables)
    else:
        state = sum(a.nbytes for s in opt.slots.values() for a in s.values())
    return state, max(peaks) if peaks else None


def measure_torch_optim(name: str, kwargs: Mapping[str, Any], shapes: list[tuple[int, ...]],
                        repeat: int) -> Measure:
    import torch

    params = [torch.tensor(a) for a in _arrays(shapes, 0).values()]
    opt = getattr(torch.optim, name)(params, **kwargs)

    def set_grads(step: int) -> None:
        for p, g in zip(params, _grads(shapes, step).values()):
            p.grad = torch.tensor(g)

    for k in range(WARMUP):
        set_grads(k)
        opt.step()
    peaks = []
    for k in range(WARMUP, WARMUP + repeat):
        set_grads(k)
        peaks.append(peak_torch(opt.step))
    state = _tensor_bytes(t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor))
    return state, max(peaks)


def measure_keras(name: str, kwargs: Mapping[str, Any], shapes: list[tuple[int, ...]], repeat: int) -> Measure:
    import keras
    import tensorflow as tf

    variables = [keras.Variable(a) for a in _arrays(shapes, 0).values()]
    opt = getattr(keras.optimizers, name)(**kwargs)
    opt.build(variables)
    for k in range(WARMUP):
        opt.apply_gradients(zip([tf.constant(g) for g in _grads(shapes, k).values()], variables))
    peaks = []
    for k in range(WARMUP, WARMUP + repeat):
        grads = [tf.constant(g) for g in _grads(shapes, k).values()]
        peaks.append(_peak_tensorflow(lambda grads=grads: opt.apply_gradients(zip(grads, variables))))
    state = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in opt.variables)
    return state, max(peaks)


# -- the tables ---------------------------------------------------------------------------------
def _cell(value: float | None, native: float | None, param_bytes: int) -> str:
    if value is None:
        return "n/a"
    mark = "!" if native is not None and value > native else " "
    return f"{value / param_bytes:.4f}{mark}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="default", choices=sorted(LAYOUTS))
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=list(ALGORITHMS))
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--natives", nargs="*", default=list(NATIVES), choices=list(NATIVES))
    parser.add_argument("--repeat", type=int, default=3,
                        help="steps measured per optimizer (the largest peak is shown)")
    args = parser.parse_args()
    shapes = LAYOUTS[args.layout]
    param_bytes = sum(int(np.prod(s)) for s in shapes) * 4
    installed = {name: importlib.util.find_spec(name) is not None for name in ("torch", "tensorflow", "jax")}
    available = {name: name == "numpy" or installed[name] for name in args.backends}
    results: dict[str, dict[str, Measure | None]] = {}
    for alg in args.algorithms:
        make_spec, torch_native, keras_native = ALGORITHMS[alg]
        row: dict[str, Measure | None] = {}
        for name in args.backends:
            row[name] = measure_optbridge(name, make_spec, shapes, args.repeat) if available[name] else None
        row["torch.optim"] = (measure_torch_optim(*torch_native, shapes, args.repeat) if "torch.optim" in args.natives
                              and torch_native is not None and installed["torch"] else None)
        row["keras"] = (measure_keras(*keras_native, shapes, args.repeat)
                        if "keras" in args.natives and installed["tensorflow"] else None)
        results[alg] = row
    shape_text = " + ".join(f"{shapes.count(s)}×{s}" for s in dict.fromkeys(shapes))
    print(f"layout {args.layout}: {shape_text} float32, {param_bytes:,} parameter bytes")
    columns = list(args.backends) + list(args.natives)
    for title, index in (("optimizer-state bytes per parameter byte", 0),
                         ("peak extra bytes during a step per parameter byte", 1)):
        print(f"\n{title}")
        print(f"{'algorithm':14s}" + "".join(f"{c:>13s}" for c in columns))
        for alg, row in results.items():
            values = {c: (row[c][index] if row[c] is not None else None) for c in columns}
            natives = [values[n] for n in args.natives if values[n] is not None]
            own = {"torch": values.get("torch.optim"), "tensorflow": values.get("keras")}
            cells = []
            for c in columns:
                if row[c] is None:
                    cells.append("-")
                    continue
                native = (own[c] if c in own else min(natives) if natives else None) if c not in NATIVES else None
                cells.append(_cell(values[c], native, param_bytes))
            print(f"{alg:14s}" + "".join(f"{cell:>13s}" for cell in cells))
    print("\n! above the native optimizer's (torch: torch.optim; tensorflow: keras; numpy, jax: the lower of the "
          "two)\n- not run (torch.optim has no Lion, or the framework is not installed)\n"
          "n/a: jax's CPU client keeps no allocator statistics (Device.memory_stats() is None)\n"
          "tensorflow, keras: TensorFlow's CPU allocator counts allocations of 256 KiB and more only")


if __name__ == "__main__":
    main()
