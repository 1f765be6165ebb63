"""Canonical ``muon`` against live ``torch.optim.Muon`` and ``keras.optimizers.Muon``.

float32 parameters, the same float32 gradients, on the NumPy reference and the origin
framework's own backend. torch's Newton–Schulz iterations run in bfloat16 and its
``lerp_``/``add_(alpha=)`` are fused multiply-adds on CPU where the canonical op order
rounds twice; a rounding that flips one bfloat16 product moves that step by about
``lr·scale`` times a bfloat16 ulp, so results are held to ``steps·lr·scale·2⁻⁷`` and the
bitwise-equal share is printed. Keras computes in float32 with its own BLAS order: held
to ``1e-5 + 1e-4·|x|``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import optbridge
from optbridge import plugin
from optbridge.errors import SpecValueError

STEPS = 6
TORCH_SHAPES = {"attn.qkv.weight": (48, 16), "attn.proj.weight": (16, 16), "mlp.fc2.weight": (16, 40)}
KERAS_SHAPES = {"token_embedding.weight": (12, 8), "dense.kernel": (8, 20), "dense.bias": (20,),
                "head.kernel": (20, 4), "tall.kernel": (20, 6)}


def _data(shapes, seed=0):
    rng = np.random.default_rng(seed)
    init = {n: (rng.standard_normal(s) * 0.2).astype(np.float32) for n, s in shapes.items()}
    grads = [{n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()} for _ in range(STEPS)]
    return init, grads


def _optbridge_run(spec, backend_name, init, grads):
    backend = plugin.get_backend(backend_name)
    params = backend.make_params(init, "float32")
    opt = backend.build(spec.to_canonical(), params, backend.kernels)
    history = []
    for g in grads:
        opt.step(backend.grads_from_numpy(g, params))
        history.append(backend.to_numpy(params))
    return history, opt


def _share(equal, total, label):
    print(f"\n{label}: bitwise equal {equal}/{total} = {100.0 * equal / total:.2f}%")


@pytest.mark.parametrize("backend_name", ["numpy", "torch"])
@pytest.mark.parametrize("kwargs", [{}, {"nesterov": False, "adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.0}],
                         ids=["defaults", "plain-rms"])
def test_matches_torch_muon(backend_name, kwargs):
    torch = pytest.importorskip("torch")
    from optbridge.dialects.torch import optim

    init, grads = _data(TORCH_SHAPES)
    lr = 0.02
    ref = {n: torch.nn.Parameter(torch.from_numpy(v.copy())) for n, v in init.items()}
    native = torch.optim.Muon(list(ref.values()), lr=lr, **kwargs)
    want = []
    for g in grads:
        for n, p in ref.items():
            p.grad = torch.from_numpy(g[n].copy())
        native.step()
        want.append({n: p.detach().numpy().copy() for n, p in ref.items()})
    got, opt = _optbridge_run(optim.Muon(None, lr=lr, **kwargs), backend_name, init, grads)
    equal = total = 0
    for step, (g_step, w_step) in enumerate(zip(got, want)):
        for n, shape in TORCH_SHAPES.items():
            rms = kwargs.get("adjust_lr_fn")
            scale = 0.2 * math.sqrt(max(shape)) if rms else math.sqrt(max(1, shape[0] / shape[1]))
            bound = (step + 1) * lr * scale * 2.0 ** -7
            assert np.abs(g_step[n] - w_step[n]).max() <= bound, (step, n)
            equal += int(np.sum(g_step[n] == w_step[n]))
            total += g_step[n].size
    buffers = opt.state_dict()["state"]
    for n, p in ref.items():
        np.testing.assert_allclose(np.asarray(buffers[n]["momentum_buffer"]),
                                   native.state[p]["momentum_buffer"].numpy(), rtol=1e-5, atol=1e-6)
    _share(equal, total, f"torch.optim.Muon vs optbridge ({backend_name})")
    assert equal / total > 0.5


def test_torch_muon_refuses_a_1d_parameter_and_a_tensor_lr_is_a_float():
    torch = pytest.importorskip("torch")
    from optbridge.dialects.torch import optim

    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        torch.optim.Muon([torch.nn.Parameter(torch.zeros(3))])
    with pytest.raises(SpecValueError, match=r"Muon only supports 2D parameters .*torch.Size\(\[3\]\)"):
        optbridge.build(optim.Muon(None), {"w": np.zeros(3, np.float32)})
    spec = optim.Muon(None, lr=torch.tensor(0.5))
    assert spec.to_dict()["lr"] == 0.5 and type(spec.to_dict()["lr"]) is float


def test_matches_keras_muon():
    """One Keras run and both backends, batched (Keras's AdamW partition: 1-D, embedding,
    ``exclude_layers``; Muon on the rest, a tall matrix transposed)."""
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("Keras runs on TensorFlow here")
    from optbridge.dialects.keras import optimizers

    init, grads = _data(KERAS_SHAPES, seed=1)
    kwargs = dict(learning_rate=0.01, weight_decay=0.01, adam_weight_decay=0.02, exclude_layers=["head"])
    variables = {n: keras.Variable(v.copy(), name=n.replace(".", "_")) for n, v in init.items()}
    native = keras.optimizers.Muon(**kwargs)
    want = []
    for g in grads:
        native.apply_gradients([(tf.constant(g[n]), variables[n]) for n in KERAS_SHAPES])
        want.append({n: v.numpy().copy() for n, v in variables.items()})
    spec = optimizers.Muon(**kwargs)
    assert {k for k, v in spec.to_canonical().algorithm.partition(
        [optbridge.groups.ParamInfo(n, s) for n, s in KERAS_SHAPES.items()]).items() if v == "muon"} == {
        "dense.kernel", "tall.kernel"}
    for backend_name in ("numpy", "tensorflow"):
        got, _ = _optbridge_run(spec, backend_name, init, grads)
        equal = total = 0
        for step, (g_step, w_step) in enumerate(zip(got, want)):
            for n in KERAS_SHAPES:
                ok = np.abs(g_step[n] - w_step[n]) <= 1e-5 + 1e-4 * np.abs(w_step[n])
                assert ok.all(), (backend_name, step, n, np.abs(g_step[n] - w_step[n]).max())
                equal += int(np.sum(g_step[n] == w_step[n]))
                total += g_step[n].size
        _share(equal, total, f"keras.optimizers.Muon vs optbridge ({backend_name})")


def test_flat_mode_keeps_muon_per_tensor():
    """Muon's rule reduces over each matrix (``Algorithm.elementwise`` is ``False``), so the torch
    backend's flat-buffer mode must not fuse its tensors into one buffer: the flat optimizer
    equals the per-tensor one bit for bit. (Before the flag, FSDP2 stepped each shard of a matrix
    as a matrix of its own: tests/test_torch_fsdp.py.)"""
    torch = pytest.importorskip("torch")
    from optbridge.algorithms import algorithm_registry
    from optbridge.dialects.torch import optim

    assert not algorithm_registry["muon"].elementwise
    rng = np.random.default_rng(3)
    shapes = [(16, 24), (24, 8), (8, 8)]
    start = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    runs = []
    for flat in (False, True):
        params = [(f"w{i}", torch.nn.Parameter(torch.from_numpy(a.copy()))) for i, a in enumerate(start)]
        opt = optbridge.build(optim.Muon(None, lr=0.02), params, backend="torch", flat=flat)
        for step in range(3):
            for k, (_, p) in enumerate(params):
                p.grad = torch.from_numpy(np.random.default_rng(10 * step + k).standard_normal(p.shape)
                                          .astype(np.float32))
            opt.step()
        runs.append([p.detach().clone() for _, p in params])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


@pytest.mark.parametrize("path", ["auto", "native"])
@pytest.mark.parametrize("kwargs", [{}, {"nesterov": False, "adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.1}],
                         ids=["defaults", "plain-rms-decay"])
def test_torch_default_path_is_torch_muon_bit_for_bit(kwargs, path):
    """The default path (and ``"native"``) runs torch's own Muon step: every element and
    momentum buffer equal to ``torch.optim.Muon``'s after every step; a Keras-arithmetic
    Muon (no torch kernel) runs the rule."""
    torch = pytest.importorskip("torch")
    from optbridge.backends.torch import Optimizer
    from optbridge.dialects.keras import optimizers as keras_optimizers
    from optbridge.dialects.torch import optim

    init, grads = _data(TORCH_SHAPES)
    ref = {n: torch.nn.Parameter(torch.from_numpy(v.copy())) for n, v in init.items()}
    ours = {n: torch.nn.Parameter(torch.from_numpy(v.copy())) for n, v in init.items()}
    native = torch.optim.Muon(list(ref.values()), lr=0.02, **kwargs)
    opt = Optimizer(ours, optim.Muon(None, lr=0.02, **kwargs), path=path)
    assert all(u.native is not None for us in opt._units for u in us)
    keras_muon = Optimizer(dict(ours), keras_optimizers.Muon(learning_rate=0.02), path=path)
    assert all(u.native is None for us in keras_muon._units for u in us)
    equal = total = 0
    for g in grads:
        for n in ref:
            ref[n].grad = torch.from_numpy(g[n].copy())
            ours[n].grad = torch.from_numpy(g[n].copy())
        native.step()
        opt.step()
        for n in ref:
            equal += int(torch.sum(ref[n] == ours[n]))
            total += ref[n].numel()
            assert torch.equal(opt.state[ours[n]]["momentum_buffer"], native.state[ref[n]]["momentum_buffer"])
    _share(equal, total, f"torch.optim.Muon vs optbridge torch path={path!r}")
    assert equal == total


@pytest.mark.parametrize("shape", [(40, 12), (12, 40), (24, 24), (1, 9), (9, 1)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_newton_schulz_is_the_rule_bit_for_bit(shape, dtype):
    """The torch backend's Newton–Schulz iterations (bfloat16 values in bfloat16 tensors, each
    operand converted once) against the rule's (``Muon.newton_schulz_bf16`` on the torch ops),
    also on a gradient with a wide range of magnitudes, where float64 sums of the products are
    not exact."""
    torch = pytest.importorskip("torch")
    from optbridge.algorithms.muon import Muon
    from optbridge.backends.torch import muon as torch_muon
    from optbridge.backends.torch import ops as torch_ops

    rng = np.random.default_rng(7)
    plain = rng.standard_normal(shape)
    spread = plain * np.exp2(rng.integers(-60, 20, shape))
    for values in (plain, spread):
        for alg in (Muon(), Muon(ns_steps=2, ns_a=2.0, ns_b=-1.5, ns_c=0.5, eps=1e-3)):
            u = torch.from_numpy(values.astype(dtype))
            ref = alg.newton_schulz_bf16(torch_ops, u)
            out = torch_muon.newton_schulz_bf16(u, alg.ns_a, alg.ns_b, alg.ns_c, alg.eps, alg.ns_steps)
            assert out.dtype == torch.bfloat16 and out.shape == ref.shape
            assert torch.equal(out.to(ref.dtype), ref)


@pytest.mark.parametrize("kwargs", [{}, {"nesterov": False, "adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.1},
                                    {"momentum": 0.3, "ns_steps": 3, "ns_coefficients": (2.0, -1.5, 0.5), "eps": 1e-3}],
                         ids=["defaults", "plain-rms-decay", "low-momentum-coefficients"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_compiled_path_is_the_rule_bit_for_bit(kwargs, dtype):
    """``path="compiled"`` (the rule's numbers with the backend's own Newton–Schulz,
    :mod:`optbridge.backends.torch.muon`) against ``path="reference"`` (the shared rule on
    the torch ops): parameters and momentum buffers equal bit for bit after every step."""
    torch = pytest.importorskip("torch")
    from optbridge.backends.torch import Optimizer
    from optbridge.dialects.torch import optim

    init, grads = _data(TORCH_SHAPES, seed=4)
    runs = []
    for path in ("compiled", "reference"):
        params = {n: torch.nn.Parameter(torch.from_numpy(v.astype(dtype))) for n, v in init.items()}
        opt = Optimizer(params, optim.Muon(None, lr=0.02, **kwargs), path=path)
        history = []
        for g in grads:
            for n, p in params.items():
                p.grad = torch.from_numpy(g[n].astype(dtype))
            opt.step()
            history.append([p.detach().clone() for p in params.values()]
                           + [opt.state[p]["momentum_buffer"].clone() for p in params.values()])
        runs.append(history)
    for compiled, reference in zip(*runs):
        assert all(torch.equal(a, b) for a, b in zip(compiled, reference))
