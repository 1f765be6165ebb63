"""Gradient transforms (optbridge.transforms): clipping in the spec, in configs and on every backend,
checked in the loops where users clip: a torch loop with ``clip_grad_norm_`` / ``clip_grad_value_``
and a Keras optimizer with ``clipnorm`` / ``clipvalue`` / ``global_clipnorm``."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import optbridge
from optbridge import transforms as T
from optbridge.backends.numpy import ops as numpy_ops
from optbridge.dialects.keras import optimizers as keras_dialect
from optbridge.dialects.torch import optim
from optbridge.errors import ConfigError, ScheduleExhaustedError, SpecKeyError, SpecTypeError, SpecValueError

SHAPES = [(7, 5), (5,), (40, 30), (3,)]


def _grads(seed: int, dtype=np.float32, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(dtype) for s in SHAPES]


# -- formulas on the NumPy reference, from the frameworks' documented formulas in float64 -------------
def test_clip_by_value_is_elementwise_and_keeps_nan():
    g = np.array([-3.0, -0.5, 0.0, 0.5, 3.0, np.nan, np.inf], np.float32)
    (out,) = T.ClipByValue(1.0).apply(numpy_ops, [g])
    np.testing.assert_array_equal(out, [-1.0, -0.5, 0.0, 0.5, 1.0, np.nan, 1.0])
    assert out is not g and g[0] == -3.0


def test_global_norm_torch_form_scales_to_max_norm():
    grads = _grads(0, np.float64, 3.0)
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    out = T.ClipByGlobalNorm(0.5).apply(numpy_ops, grads)
    clipped = math.sqrt(sum(float(np.sum(g * g)) for g in out))
    assert clipped == pytest.approx(0.5 * total / (total + 1e-6), rel=1e-12)
    small = T.ClipByGlobalNorm(1e6).apply(numpy_ops, grads)
    assert all(np.array_equal(a, b) for a, b in zip(small, grads))


def test_global_norm_inf_uses_the_largest_magnitude():
    grads = [np.array([0.1, -4.0]), np.array([2.0])]
    out = T.ClipByGlobalNorm(1.0, norm_type="inf").apply(numpy_ops, grads)
    c = 1.0 / (4.0 + 1e-6)
    np.testing.assert_array_equal(out[0], grads[0] * c)


def test_keras_forms_clip_every_tensor():
    g = np.array([3.0, 4.0], np.float32)
    (per_tensor,) = T.ClipByNorm(1.0).apply(numpy_ops, [g])
    np.testing.assert_allclose(per_tensor, [0.6, 0.8], rtol=1e-7)
    (zero,) = T.ClipByNorm(1.0).apply(numpy_ops, [np.zeros(3, np.float32)])
    np.testing.assert_array_equal(zero, 0.0)
    out = T.ClipByGlobalNorm(1.0, form="keras").apply(numpy_ops, [g, g])
    np.testing.assert_allclose(np.sqrt(sum(np.sum(x * x) for x in out)), 1.0, rtol=1e-6)
    nonfinite = T.ClipByGlobalNorm(1.0, form="keras").apply(numpy_ops, [np.array([np.inf, 1.0], np.float32)])
    assert np.isnan(nonfinite[0]).all()


# -- spec and config --------------------------------------------------------------------------------
def test_transforms_round_trip_through_configs(tmp_path):
    opt = optim.AdamW(None, lr=1e-3).with_transforms(T.ClipByGlobalNorm(1.0, norm_type=math.inf),
                                                      {"transform": "clip_by_value", "clip_value": 2})
    data = optbridge.to_dict(opt)
    assert data["transforms"] == [
        {"transform": "clip_by_global_norm", "max_norm": 1.0, "form": "torch", "norm_type": "inf"},
        {"transform": "clip_by_value", "clip_value": 2.0}]
    assert optbridge.from_dict(json.loads(json.dumps(data))) == opt
    path = tmp_path / "adamw.toml"
    optbridge.save(opt, path)
    loaded = optbridge.load(path)
    assert loaded == opt
    assert loaded.to_canonical().transforms == opt.to_canonical().transforms
    assert optim.AdamW(None, lr=1e-3) != opt


def test_keras_clip_arguments_lower_to_transforms():
    assert keras_dialect.Adam(clipnorm=0.5).to_canonical().transforms == (T.ClipByNorm(0.5),)
    assert keras_dialect.SGD(global_clipnorm=2.0).to_canonical().transforms == (T.ClipByGlobalNorm(2.0, form="keras"),)
    assert keras_dialect.SGD(clipvalue=0.1).to_canonical().transforms == (T.ClipByValue(0.1),)
    assert keras_dialect.SGD(clipvalue=0.0).to_canonical().transforms == ()  # Keras clips only above 0
    assert keras_dialect.SGD(clipnorm=-1.0).to_canonical().transforms == ()
    with pytest.raises(SpecValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        keras_dialect.SGD(clipnorm=1.0, clipvalue=1.0)


@pytest.mark.parametrize("entry,error,message", [
    ({"transform": "clip_by_value", "clip_value": 0}, SpecValueError, r"transforms\[0\]: clip_by_value: 'clip_value'"),
    ({"transform": "clip_by_value", "clip_value": "1"}, SpecTypeError, "must be a number"),
    ({"transform": "clip_by_global_norm", "max_norm": 1.0, "norm_type": 1.0}, SpecValueError, "norm_type"),
    ({"transform": "clip_by_global_norm", "max_norm": 1.0, "form": "keras", "norm_type": "inf"}, SpecValueError,
     "form 'keras'"),
    ({"transform": "clip_by_global_norm", "max_norm": 1.0, "form": "jax"}, SpecValueError, "'form' must be one of"),
    ({"transform": "clip_by_valu", "clip_value": 1.0}, SpecKeyError, "unknown transform 'clip_by_valu'"),
    ({"transform": "clip_by_value", "clip_value": 1.0, "foreach": True}, SpecKeyError, r"takes no argument\(s\) \['foreach'\]"),
    ({"clip_value": 1.0}, SpecKeyError, "needs a 'transform' key"),
])
def test_bad_transforms_are_refused_naming_the_entry(entry, error, message):
    data = {"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1, "transforms": [entry]}
    with pytest.raises(error, match=message):
        optbridge.from_dict(data)
    opt = optim.SGD(None, lr=0.1)
    with pytest.raises(error):
        opt.with_transforms(entry)
    assert opt.transforms == ()


def test_transforms_must_be_a_list():
    with pytest.raises(SpecTypeError, match="must be a list of transforms"):
        optbridge.from_dict({"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1,
                             "transforms": {"transform": "clip_by_value", "clip_value": 1.0}})
    with pytest.raises(ConfigError):
        optbridge.from_dict({"format_version": 1, "optimizer": "torch.optim.SGD", "lr": 0.1, "transformz": []})


# -- a torch loop with torch's own clipping -----------------------------------------------------------
@pytest.mark.parametrize("transform", [T.ClipByGlobalNorm(0.05), T.ClipByGlobalNorm(0.01, norm_type=math.inf),
                                       T.ClipByValue(0.01)], ids=lambda t: t.describe())
@pytest.mark.parametrize("algorithm", ["AdamW", "SGD"])
def test_torch_backend_equals_a_torch_loop_that_clips(transform, algorithm):
    """``clip_grad_norm_`` / ``clip_grad_value_`` then ``step()`` of torch.optim (fused kernels, which
    the torch backend's default path runs) against the spec carrying the transform: bit for bit."""
    torch = pytest.importorskip("torch")
    kwargs = {"AdamW": dict(lr=1e-2, weight_decay=0.1), "SGD": dict(lr=0.1, momentum=0.9, nesterov=True)}[algorithm]

    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))

    torch.manual_seed(1)
    x, y = torch.randn(32, 20), torch.randint(0, 3, (32,))
    ours, theirs = model(), model()
    opt = optbridge.build(getattr(optim, algorithm)(None, **kwargs).with_transforms(transform),
                          ours.named_parameters(), backend="torch")
    native = getattr(torch.optim, algorithm)(theirs.parameters(), **kwargs, fused=True)
    for _ in range(8):
        for net, optimizer in ((ours, opt), (theirs, native)):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
        before = [p.grad.clone() for p in ours.parameters()]
        if isinstance(transform, T.ClipByValue):
            torch.nn.utils.clip_grad_value_(theirs.parameters(), transform.clip_value)
        else:
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), transform.max_norm, transform.norm_type)
        opt.step()
        native.step()
        if isinstance(transform, T.ClipByValue):
            assert all(torch.equal(p.grad, g) for p, g in zip(ours.parameters(), before))  # .grad not written
        else:  # scaled in place, as clip_grad_norm_ scales it
            assert all(torch.equal(a.grad, b.grad) for a, b in zip(ours.parameters(), theirs.parameters()))
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(a, b)


def test_torch_capturable_refuses_transforms_clearly_and_flat_runs_them():
    torch = pytest.importorskip("torch")
    spec = optim.SGD(None, lr=0.1, momentum=0.9).with_transforms(T.ClipByValue(0.5), T.ClipByGlobalNorm(1.0))
    with pytest.raises(SpecValueError, match="capturable=True does not run"):
        optbridge.build(spec, [("w", torch.nn.Parameter(torch.ones(3)))], backend="torch", capturable=True)
    runs = []
    for flat in (False, True):
        params = [(f"p{i}", torch.nn.Parameter(torch.from_numpy(g.copy()))) for i, g in enumerate(_grads(5))]
        opt = optbridge.build(spec, params, backend="torch", flat=flat)
        for step in range(3):
            for k, (_, p) in enumerate(params):
                p.grad = torch.from_numpy(_grads(10 + step, scale=2.0)[k])
            before = [p.grad.clone() for _, p in params]
            opt.step()
            assert all(torch.equal(p.grad, b) for (_, p), b in zip(params, before))  # the buffer's copy is clipped
        runs.append([p.detach().clone() for _, p in params])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


@pytest.mark.parametrize("flat", [False, True], ids=["per-tensor", "flat"])
def test_torch_global_clip_writes_grad_as_clip_grad_norm_does(flat):
    """The contract on the caller's gradients: a torch-form global clip first in the pipeline
    scales each parameter's own ``.grad`` tensor in place, to ``clip_grad_norm_``'s values bit
    for bit; after another transform, or in the Keras form, ``.grad`` is not written; a step
    refused before the update leaves ``.grad`` as it was."""
    torch = pytest.importorskip("torch")

    def run(spec, grads):
        params = [(f"p{i}", torch.nn.Parameter(torch.from_numpy(g.copy()))) for i, g in enumerate(_grads(5))]
        opt = optbridge.build(spec, params, backend="torch", flat=flat)
        for (_, p), g in zip(params, grads):
            if p.grad is None:
                p.grad = torch.from_numpy(g.copy())
            else:
                p.grad.copy_(torch.from_numpy(g))
        held = [p.grad for _, p in params]
        opt.step()
        assert all(p.grad is h for (_, p), h in zip(params, held))  # the same tensors
        return [p.grad for _, p in params], [p.detach() for _, p in params]

    grads = _grads(11, scale=2.0)
    theirs = [torch.nn.Parameter(torch.from_numpy(g.copy())) for g in _grads(5)]
    for p, g in zip(theirs, grads):
        p.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    torch.optim.SGD(theirs, lr=0.1, momentum=0.9, fused=True).step()
    written, stepped = run(optim.SGD(None, lr=0.1, momentum=0.9).with_transforms(T.ClipByGlobalNorm(0.5)), grads)
    assert all(torch.equal(a, b.grad) for a, b in zip(written, theirs))
    assert not all(torch.equal(a, torch.from_numpy(g)) for a, g in zip(written, grads))  # it did clip
    assert all(torch.equal(a, b) for a, b in zip(stepped, theirs))
    for later in (optim.SGD(None, lr=0.1).with_transforms(T.ClipByValue(10.0), T.ClipByGlobalNorm(0.5)),
                  optim.SGD(None, lr=0.1).with_transforms(T.ClipByGlobalNorm(0.5, form="keras"))):
        kept, _ = run(later, grads)
        assert all(torch.equal(a, torch.from_numpy(g)) for a, g in zip(kept, grads))
    # a step the engine refuses (its per-step lr list is exhausted) leaves .grad as it was
    params = [(f"p{i}", torch.nn.Parameter(torch.from_numpy(g.copy()))) for i, g in enumerate(_grads(5))]
    opt = optbridge.build(optim.SGD(None, lr=[0.1]).with_transforms(T.ClipByGlobalNorm(0.5)), params,
                          backend="torch", flat=flat)
    for step in range(2):
        for (_, p), g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        if step == 1:
            with pytest.raises(ScheduleExhaustedError):
                opt.step()
        else:
            opt.step()
    assert all(torch.equal(p.grad, torch.from_numpy(g)) for (_, p), g in zip(params, grads))


def test_torch_global_clip_scales_an_expanded_gradient_into_a_new_tensor():
    """An expanded ``.grad`` (one element seen many times) cannot be scaled in place
    (``clip_grad_norm_`` raises there): it is scaled into a new tensor, with the same numbers."""
    torch = pytest.importorskip("torch")
    grads = [torch.full((1, 4), 3.0).expand(3, 4), torch.arange(5.0)]
    ours = [torch.nn.Parameter(torch.ones(3, 4)), torch.nn.Parameter(torch.ones(5))]
    dense = [torch.nn.Parameter(torch.ones(3, 4)), torch.nn.Parameter(torch.ones(5))]
    for p, q, g in zip(ours, dense, grads):
        p.grad, q.grad = g, g.clone(memory_format=torch.contiguous_format)
    optbridge.build(optim.SGD(None, lr=0.1).with_transforms(T.ClipByGlobalNorm(1.0)),
                    [("w", ours[0]), ("b", ours[1])], backend="torch").step()
    torch.nn.utils.clip_grad_norm_(dense, 1.0)
    torch.optim.SGD(dense, lr=0.1, fused=True).step()
    assert torch.equal(ours[0].grad, torch.full((3, 4), 3.0))  # not written
    assert torch.equal(ours[1].grad, dense[1].grad)  # written in place
    assert all(torch.equal(a, b) for a, b in zip(ours, dense))


def test_torch_partition_refuses_a_global_norm():
    """ZeRO steps one process's share: a global norm over it would not be the model's."""
    torch = pytest.importorskip("torch")
    from optbridge.backends.torch import Optimizer

    params = [("w", torch.nn.Parameter(torch.ones(3)))]
    spec = optim.SGD(None, lr=0.1).with_transforms(T.ClipByGlobalNorm(1.0))
    with pytest.raises(SpecValueError, match=r"partition=True \(ZeRO\)"):
        Optimizer(params, spec, names=dict(params), partition=True)
    Optimizer(params, optim.SGD(None, lr=0.1).with_transforms(T.ClipByValue(1.0)), names=dict(params), partition=True)


# -- Keras ---------------------------------------------------------------------------------------------
def test_keras_adapter_equals_keras_clipping():
    """``optbridge.keras`` of a Keras-dialect optimizer with each clipping argument against
    ``keras.optimizers`` with the same argument (float32, TensorFlow backend): bit for bit."""
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    start = _grads(1, scale=0.3)
    for cls, extra in (("Adam", {}), ("SGD", {"momentum": 0.9})):
        for clip in ({"clipnorm": 0.05}, {"global_clipnorm": 0.05}, {"clipvalue": 0.01}):
            mine = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(start)]
            theirs = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(start)]
            native = getattr(keras.optimizers, cls)(learning_rate=0.01, **extra, **clip)
            ours = optbridge.keras(getattr(keras_dialect, cls)(learning_rate=0.01, **extra, **clip))
            for step in range(6):
                grads = [keras.ops.convert_to_tensor(rng.standard_normal(s).astype(np.float32) * (step + 1))
                         for s in SHAPES]
                native.apply_gradients(zip(grads, theirs))
                ours.apply_gradients(zip(grads, mine))
            for a, b in zip(mine, theirs):
                np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()), err_msg=f"{cls} {clip}")
