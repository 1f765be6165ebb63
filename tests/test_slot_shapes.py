"""Slots at their declared shapes: Adafactor's factored moments stored factored.

A slot declares a shape kind (``Slot.shape``, ``optbridge.algorithms.base.SLOT_SHAPES``);
every backend allocates it at that shape, the neutral state dict holds it so, and a state
dict may hold a factored statistic in MindSpore's and Keras's layout (without the size-1
axis), which loads reshaped. The references are ``torch.optim.Adafactor``'s own state
and the shapes MindSpore 2.10's ``nn.AdaFactor`` and Keras's ``optimizers.Adafactor``
allocate (``exp_avg_sq_row`` ``P[:-1]``, ``exp_avg_sq_col`` ``P[:-2] + P[-1:]``).
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

import optbridge
from optbridge import plugin
from optbridge.algorithms import Adafactor, Slot
from optbridge.algorithms.base import SLOT_SHAPES
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim
from optbridge.errors import StateDictError

SHAPES = {"w": (6, 4), "conv": (2, 3, 5), "b": (4,), "s": ()}
STEPS = 3
BACKENDS = ["numpy", "torch", "tensorflow", "jax"]


def _grads(step: int, dtype: str = "float64") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(40 + step)
    return {n: np.asarray(rng.standard_normal(s), dtype=dtype) for n, s in SHAPES.items()}


def _initial(dtype: str = "float64") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {n: np.asarray(rng.standard_normal(s), dtype=dtype) for n, s in SHAPES.items()}


def _backend(name: str):
    if name != "numpy":
        pytest.importorskip(name)
    return plugin.get_backend(name)


def _run(name: str, spec, dtype: str, steps: int = STEPS):
    backend = _backend(name)
    params = backend.make_params(_initial(dtype), dtype)
    opt = backend.build(spec.to_canonical(), params, backend.kernels)
    for k in range(steps):
        ret = opt.step(backend.grads_from_numpy(_grads(k, dtype), params))
        if backend.functional:
            params = ret
    return backend, opt, params


def _numpy_state(opt) -> dict[str, dict[str, np.ndarray]]:
    return {n: {k: np.array(v.detach().numpy() if hasattr(v, "detach") else v) for k, v in s.items()}
            for n, s in opt.state_dict()["state"].items()}


def _fingerprint(backend, opt, params) -> str:
    m = hashlib.sha256()
    for n, a in sorted(backend.to_numpy(params).items()):
        m.update(n.encode() + np.ascontiguousarray(a).tobytes())
    for n, s in sorted(_numpy_state(opt).items()):
        for k, v in sorted(s.items()):
            m.update(f"{n}.{k}{v.shape}".encode() + np.ascontiguousarray(v).tobytes())
    m.update(str(opt.global_step).encode())
    return m.hexdigest()


def test_shape_kinds():
    row, col, unfactored = (Slot("r", shape="row"), Slot("c", shape="col"), Slot("v", shape="unfactored"))
    assert Slot("m").layout((512, 256)).shape == (512, 256)
    assert row.layout((512, 256)).shape == (512, 1) and row.layout((512, 256)).alternates == ((512,),)
    assert col.layout((512, 256)).shape == (1, 256) and col.layout((512, 256)).alternates == ((256,),)
    assert row.layout((2, 3, 5)).shape == (2, 3, 1) and col.layout((2, 3, 5)).shape == (2, 1, 5)
    assert col.layout((2, 3, 5)).alternates == ((2, 5),)
    assert row.layout((7,)) is None and col.layout(()) is None and unfactored.layout((7, 2)) is None
    assert unfactored.layout((7,)).shape == (7,) and unfactored.layout(()).shape == ()
    assert sorted(SLOT_SHAPES) == ["col", "full", "row", "unfactored"]
    with pytest.raises(ValueError, match="'bogus'"):
        Slot("x", shape="bogus")


def test_adafactor_slots_are_torch_optim_adafactors():
    """Keys, shapes and values of torch.optim.Adafactor's state (its ``step`` aside), float64."""
    torch = pytest.importorskip("torch")
    params = {n: torch.tensor(v) for n, v in _initial().items()}
    ref = torch.optim.Adafactor(list(params.values()), lr=0.01, weight_decay=0.1)
    for k in range(STEPS):
        for n, g in _grads(k).items():
            params[n].grad = torch.tensor(g)
        ref.step()
    _, opt, _ = _run("numpy", optim.Adafactor(None, lr=0.01, weight_decay=0.1), "float64")
    ours = _numpy_state(opt)
    for n, p in params.items():
        want = {k: v.numpy() for k, v in ref.state[p].items() if k != "step"}
        assert sorted(ours[n]) == sorted(want), n
        for k, v in want.items():
            assert ours[n][k].shape == v.shape, (n, k)
            np.testing.assert_allclose(ours[n][k], v, rtol=1e-12, atol=0, err_msg=f"{n}.{k}")


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("spec", [optim.Adafactor(None, lr=0.01), nn.AdaFactor(None, beta1=0.9)],
                         ids=["torch", "mindspore"])
def test_every_backend_stores_the_statistics_factored(name, spec):
    dtype = "float32"
    _, opt, _ = _run(name, spec, dtype)
    state = _numpy_state(opt)
    first = {"exp_avg": None} if spec.to_canonical().algorithm.beta1 > 0 else {}
    expected = {
        "w": {**first, "row_var": (6, 1), "col_var": (1, 4)},
        "conv": {**first, "row_var": (2, 3, 1), "col_var": (2, 1, 5)},
        "b": {**first, "variance": (4,)},
        "s": {**first, "variance": ()},
    }
    for n, slots in expected.items():
        assert sorted(state[n]) == sorted(slots), n
        for k, shape in slots.items():
            assert state[n][k].shape == (shape if shape is not None else SHAPES[n]), (n, k)
            assert state[n][k].dtype == np.float32
    factored = sum(v.size for s in state.values() for k, v in s.items() if k != "exp_avg")
    assert factored == (6 + 4) + (6 + 10) + 4 + 1


def test_keras_adapter_and_tensorflow_variables_are_factored():
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    variables = [keras.Variable(v, name=n) for n, v in _initial("float32").items()]
    opt = optbridge.keras(optim.Adafactor(None, lr=0.01))
    opt.build(variables)
    own = opt.optbridge.variables
    assert sorted(tuple(v.shape) for v in own) == sorted([(6, 1), (1, 4), (2, 3, 1), (2, 1, 5), (4,), ()])
    opt.apply_gradients([(tf.constant(g), v) for g, v in zip(_grads(0, "float32").values(), variables)])
    assert int(opt.iterations.numpy()) == 1


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("spec", [optim.Adafactor(None, lr=0.01), nn.AdaFactor(None)], ids=["torch", "mindspore"])
def test_mindspore_and_keras_layout_loads_reshaped(name, spec):
    """A state whose row/col statistics drop the size-1 axis (MindSpore's exp_avg_sq_row/col,
    Keras's r/c) continues exactly as the same state in torch's layout."""
    dtype = "float32"
    _, source, _ = _run(name, spec, dtype)
    canonical = source.state_dict()
    other = dict(canonical, state={n: dict(s) for n, s in canonical["state"].items()})
    for n, slots in other["state"].items():
        if "row_var" in slots:
            slots["row_var"] = slots["row_var"].reshape(SHAPES[n][:-1])
            slots["col_var"] = slots["col_var"].reshape(SHAPES[n][:-2] + SHAPES[n][-1:])
    runs = []
    for sd in (canonical, other):
        backend, opt, params = _run(name, spec, dtype, steps=0)
        opt.load_state_dict(sd)
        assert {n: {k: v.shape for k, v in s.items()} for n, s in _numpy_state(opt).items()} == \
            {n: {k: v.shape for k, v in s.items()} for n, s in canonical["state"].items()}
        for k in range(STEPS, STEPS + 2):
            ret = opt.step(backend.grads_from_numpy(_grads(k, dtype), params))
            if backend.functional:
                params = ret
        runs.append(_fingerprint(backend, opt, params))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("slot, shape", [
    ("row_var", (6, 4)),   # broadcast to the parameter's shape (the layout before slots had shapes)
    ("row_var", (1, 6)),   # the elements of (6, 1) in a transposed layout
    ("row_var", (1, 4)),   # col_var's shape
    ("col_var", (4, 1)),
    ("col_var", (6,)),     # MindSpore's exp_avg_sq_row in the column's place
])
def test_other_layouts_are_refused_naming_the_path(name, slot, shape):
    spec = optim.Adafactor(None, lr=0.01)
    backend, opt, params = _run(name, spec, "float32")
    before = _fingerprint(backend, opt, params)
    sd = opt.state_dict()
    bad = dict(sd, state={n: dict(s) for n, s in sd["state"].items()})
    bad["state"]["w"][slot] = np.zeros(shape, np.float32)
    with pytest.raises(StateDictError, match=rf"state\['w'\]\.{slot}: shape \({shape[0]},"):
        opt.load_state_dict(bad)
    assert _fingerprint(backend, opt, params) == before


def test_a_vector_has_no_row_or_col_statistics():
    _, opt, _ = _run("numpy", optim.Adafactor(None, lr=0.01), "float64")
    sd = opt.state_dict()
    bad = dict(sd, state={n: dict(s) for n, s in sd["state"].items()})
    bad["state"]["b"]["row_var"] = np.zeros((1,))
    with pytest.raises(StateDictError,
                       match=r"state\['b'\]: slots \['row_var', 'variance'\] != expected \['variance'\]"):
        opt.load_state_dict(bad)


def test_slot_memory_is_sublinear():
    """A 512×256 weight and a 256-element bias: 512 + 256 + 256 numbers of state (torch.optim's)."""
    params = {"w": np.zeros((512, 256), np.float32), "b": np.zeros(256, np.float32)}
    opt = optbridge.build(optim.Adafactor(None, lr=0.01), params, backend="numpy")
    nbytes = sum(a.nbytes for s in opt.slots.values() for a in s.values())
    assert nbytes == (512 + 256 + 256) * 4
    assert Adafactor().slots() == (Slot("row_var", shape="row"), Slot("col_var", shape="col"),
                                   Slot("variance", shape="unfactored"))
