"""The torch backend on ``adafactor`` (the shared rule, ``optbridge.algorithms.adafactor``, on the torch ops).

* every flag combination of both arithmetics against the NumPy reference (float64 to
  1e-13 of each tensor's magnitude, float32 to a few float32 ulps), on shapes that
  exercise the factored statistics (2-D, 3-D, 4-D), the full second moment (1-D, 0-d)
  and MindSpore's block-wise RMS sums (more than 1000 elements, a padded last block);
* the paths: the torch arithmetic compiles (no graph fallback), the MindSpore
  arithmetic declares itself not compilable and runs eagerly on ``"compiled"``;
* no host-device synchronization inside ``step()`` (no ``aten._local_scalar_dense``,
  which every ``.item()``/``float(t)``/``bool(t)`` dispatches to);
* the torch-dialect ``Adafactor`` on the torch backend against ``torch.optim.Adafactor``
  itself, live.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import optbridge  # noqa: E402
from optbridge.algorithms import Adafactor  # noqa: E402
from optbridge.backends.torch import KERNELS, Optimizer  # noqa: E402
from optbridge.backends.torch.paths import bucket_step  # noqa: E402
from optbridge.conformance import compare, streams  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.schedules.values import Constant  # noqa: E402
from optbridge.spec import OptimizerSpec  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

LAYOUT = (("conv.weight", (4, 3, 2, 5)), ("emb", (3, 1001)), ("fc.weight", (6, 7)), ("seq", (2, 3, 4)),
          ("fc.bias", (6,)), ("scale", ()))
STEPS = 6
SEED = 11

TORCH_FORM = dict(arithmetic="torch", eps1_placement="clamp")
MS_FORM = dict(arithmetic="mindspore", eps1_placement="add", eps1=1e-30)
#: (id, algorithm, lr, weight decay, host precision)
VARIANTS = [
    ("torch_default", Adafactor(**TORCH_FORM), 0.01, 0.0, "float64"),
    ("torch_decay_eps_d", Adafactor(**TORCH_FORM, eps1=1e-10, eps2=1e-2, clip_threshold=2.0), 0.5, 0.1, "float64"),
    ("torch_lr_unscaled", Adafactor(**TORCH_FORM, lr_rule="lr", scale_parameter=False, beta2_decay=-0.5), 0.02,
     0.0, "float64"),
    ("torch_maximize", Adafactor(**TORCH_FORM, maximize=True), 0.05, 0.01, "float64"),
    ("ms_default", Adafactor(**MS_FORM, beta1=0.9, lr_rule="relative", weight_decay_form="mindspore"), 1e-3, 0.0,
     "float32"),
    ("ms_decay_warmup", Adafactor(**MS_FORM, beta1=0.9, lr_rule="relative_warmup", weight_decay_form="mindspore"),
     1e-3, 0.05, "float32"),
    ("ms_lr_no_first_moment", Adafactor(**MS_FORM, lr_rule="lr", scale_parameter=False), 0.03, 0.0, "float32"),
    ("ms_decoupled_decay", Adafactor(**MS_FORM, beta1=0.5, lr_rule="lr", weight_decay_form="decoupled"), 0.03, 0.1,
     "float32"),
]


def spec_of(variant) -> OptimizerSpec:
    _, algorithm, lr, wd, precision = variant
    return OptimizerSpec(algorithm=algorithm, lr=Constant(lr), weight_decay=Constant(wd), precision=precision)


def run_torch(spec, dtype: str, path: str = "reference", flat: bool = False, layout=LAYOUT):
    start = streams.as_dtype(streams.initial_params(layout, SEED), dtype)
    params = {k: torch.tensor(v) for k, v in start.items()}
    opt = Optimizer(params, spec, path=path, flat=flat, compile_threshold=0)
    for step in range(STEPS):
        for name, g in streams.as_dtype(streams.gradients(layout, step, SEED), dtype).items():
            params[name].grad = torch.tensor(g)
        opt.step()
    return {k: v.numpy() for k, v in params.items()}, opt


def run_numpy(spec, dtype: str, layout=LAYOUT):
    params = streams.as_dtype(streams.initial_params(layout, SEED), dtype)
    opt = optbridge.build(spec, params, backend="numpy")
    for step in range(STEPS):
        opt.step(streams.as_dtype(streams.gradients(layout, step, SEED), dtype))
    return params, opt


def assert_matches_numpy(ours, opt, dtype: str, spec) -> None:
    ref, ref_opt = run_numpy(spec, dtype)
    ref64, _ = run_numpy(spec, "float64")
    state, ref_state = opt.state_dict()["state"], ref_opt.state_dict()["state"]
    for name, _ in LAYOUT:
        pairs = [(ours[name], ref[name], ref64[name], name)]
        pairs += [(np.asarray(state[name][k]), v, None, f"{name}.{k}") for k, v in ref_state[name].items()]
        for got, want, want64, where in pairs:
            if dtype == "float64":
                assert compare.relative_deviation(got, want) <= 1e-13, where
            else:
                # a few float32 ulps of the tensor's magnitude (summation order, torch's sqrt)
                assert compare.ulps_from_reference(got, want, "float32") <= 4, where
                if want64 is not None:
                    assert compare.relative_deviation(got, want64) <= 2 * compare.relative_deviation(want, want64) \
                        + 4 * np.finfo(np.float32).eps, where


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_reference_path_matches_numpy(variant, dtype):
    spec = spec_of(variant)
    ours, opt = run_torch(spec, dtype)
    assert_matches_numpy(ours, opt, dtype, spec)


@pytest.mark.parametrize("variant", [VARIANTS[1], VARIANTS[5]], ids=[VARIANTS[1][0], VARIANTS[5][0]])
def test_flat_mode_keeps_adafactor_per_tensor(variant):
    spec = spec_of(variant)
    ours, opt = run_torch(spec, "float64", path="auto", flat=True)
    assert all(u.flat is None for units in opt._units for u in units)
    assert not KERNELS["adafactor"].elementwise
    assert_matches_numpy(ours, opt, "float64", spec)


SMALL = (("w", (3, 5)), ("b", (3,)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_arithmetic_compiles_into_one_graph(dtype):
    spec = spec_of(VARIANTS[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a compile failure would fall back with a warning
        compiled, opt = run_torch(spec, dtype, path="compiled", layout=SMALL)
    reference, _ = run_torch(spec, dtype, path="reference", layout=SMALL)
    assert KERNELS["adafactor"].compiles(spec.algorithm)
    fns = [fn for units in opt._units for u in units for fn in u.compiled.values()]
    assert fns and all(fn is not bucket_step for fn in fns)  # bucket_step itself: the compile-failure fallback
    for name, _ in SMALL:
        # inductor's reductions and sqrt may round differently from eager torch: a few ulps
        assert compare.ulps_from_reference(compiled[name], reference[name], dtype) <= 4, name


def test_mindspore_arithmetic_runs_eagerly_on_the_compiled_path():
    spec = spec_of(VARIANTS[5])
    assert not KERNELS["adafactor"].compiles(spec.algorithm)
    compiled, opt = run_torch(spec, "float32", path="compiled", layout=SMALL)
    reference, _ = run_torch(spec, "float32", path="reference", layout=SMALL)
    assert all(not u.compiled for units in opt._units for u in units)
    for name, _ in SMALL:
        assert compiled[name].tobytes() == reference[name].tobytes(), name


class _ScalarReads(TorchDispatchMode):
    """Counts device-to-host reads of tensor values (``.item()``, ``float(t)``, ``bool(t)``)."""

    def __init__(self):
        super().__init__()
        self.reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.reads += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("variant", [VARIANTS[1], VARIANTS[2], VARIANTS[5], VARIANTS[7]],
                         ids=[VARIANTS[i][0] for i in (1, 2, 5, 7)])
def test_step_reads_no_tensor_value_on_the_host(variant):
    params = {k: torch.tensor(v) for k, v in streams.initial_params(LAYOUT, SEED).items()}
    opt = Optimizer(params, spec_of(variant), path="reference")
    for step in range(3):
        for name, g in streams.gradients(LAYOUT, step, SEED).items():
            params[name].grad = torch.tensor(g)
        with _ScalarReads() as mode:
            opt.step()
        assert mode.reads == 0


def test_a_bare_update_function_stays_compilable():
    from optbridge.backends.torch.fast_paths import as_kernel

    assert as_kernel("custom", lambda alg, params, grads, slots, s: None).compiles(Adafactor())


# -- the torch dialect on the torch backend against torch.optim.Adafactor -------------------------
LIVE_LAYOUT = (("conv.weight", (4, 3, 3)), ("conv.bias", (4,)), ("fc.weight", (5, 7)), ("fc.bias", (5,)))
LIVE_STEPS = 25
#: (id, group-0 overrides, group-1 overrides, constructor arguments), as in test_torch_optim_live_adaptive.py
LIVE_CASES = [
    ("adafactor", {"lr": 0.05, "weight_decay": 0.1}, {"beta2_decay": -0.5}, dict(lr=0.01)),
    ("adafactor_eps_d_maximize", {"maximize": True, "d": 2.0}, {"eps": (1e-20, 1e-2)},
     dict(lr=0.5, weight_decay=1e-2, eps=(1e-10, 1e-3))),
]


@pytest.mark.parametrize("path", ["reference", "compiled"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", LIVE_CASES, ids=[c[0] for c in LIVE_CASES])
def test_torch_backend_matches_torch_optim_adafactor(case, dtype, path):
    _, group0, group1, kwargs = case
    start = streams.as_dtype(streams.initial_params(LIVE_LAYOUT, SEED), dtype)
    ours = {k: torch.tensor(v) for k, v in start.items()}
    spec = optim.Adafactor([{"params": ["conv.*"], **group0}, {"params": "*", **group1}], **kwargs)
    opt = Optimizer(ours, spec, path=path, compile_threshold=0)
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
    reference = torch.optim.Adafactor(
        [{"params": [theirs["conv.weight"], theirs["conv.bias"]], **group0},
         {"params": [theirs["fc.weight"], theirs["fc.bias"]], **group1}], foreach=False, **kwargs)
    for step in range(LIVE_STEPS):
        for name, g in streams.as_dtype(streams.gradients(LIVE_LAYOUT, step, SEED), dtype).items():
            ours[name].grad = torch.tensor(g)
            theirs[name].grad = torch.tensor(g)
        opt.step()
        reference.step()
        for name, _ in LIVE_LAYOUT:
            a, b = ours[name].numpy(), theirs[name].detach().numpy()
            if dtype == "float64":
                assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max(), f"step {step} {name}"
            else:
                assert np.all(np.abs(a.astype(np.float64) - b) <= 1e-6 + 1e-5 * np.abs(b.astype(np.float64))), \
                    f"step {step} {name}"
