"""Canonical ``lion`` in torch-style and MindSpore-style specs (no framework ships Lion but Keras).

torch and MindSpore have no Lion class, so neither dialect has one (a dialect class is the
framework's own optimizer); the canonical API reaches it with each framework's conventions
as :class:`~optbridge.spec.OptimizerSpec` fields:

* torch style: ``weight_decay_form="decoupled"`` (``p·(1 − lr·wd)``, as torch's AdamW and
  lion-pytorch), float64 host scalars, torch's pre-processing, every parameter decayed;
* MindSpore style: float32 host scalars, MindSpore's pre-processing and its default decay
  filter (``beta``/``gamma`` names not decayed).

Each runs on NumPy and torch equal to the canonical op order written out in NumPy, and a
state dict taken mid-run resumes to the same numbers.
"""
from __future__ import annotations

import numpy as np
import pytest

import optbridge
from optbridge.algorithms import Lion
from optbridge.schedules import Constant
from optbridge.spec import PREPROCESS_STEPS, OptimizerSpec

LR, WD, STEPS = 0.01, 0.1, 5
TORCH_STYLE = OptimizerSpec(Lion(beta_1=0.9, beta_2=0.99, weight_decay_form="decoupled"), lr=Constant(LR),
                            weight_decay=Constant(WD), precision="float64", preprocess=("weight_decay",))
MINDSPORE_STYLE = OptimizerSpec(Lion(beta_1=0.9, beta_2=0.99, weight_decay_form="decoupled"), lr=Constant(LR),
                                weight_decay=Constant(WD), precision="float32", decay_filter="mindspore",
                                preprocess=PREPROCESS_STEPS)
SHAPES = {"fc.weight": (4, 3), "ln.gamma": (3,)}


def _data():
    rng = np.random.default_rng(5)
    init = {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}
    grads = [{n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()} for _ in range(STEPS)]
    return init, grads


def _reference(style, init, grads):
    """The canonical op order (``optbridge.algorithms.lion``) in NumPy float32, host scalars
    formed in the style's precision and rounded once to float32."""
    t, h = np.float32, (np.float64 if style is TORCH_STYLE else np.float32)
    p = {n: v.copy() for n, v in init.items()}
    m = {n: np.zeros_like(v) for n, v in init.items()}
    for g_step in grads:
        for n in p:
            g = g_step[n]
            decayed = style is TORCH_STYLE or "gamma" not in n
            p[n] = p[n] * t(h(1.0) - h(LR) * h(WD if decayed else 0.0))   # 0. p·decay
            c = m[n] * t(0.9) + g * t(h(1.0) - h(0.9))                 # 1.
            p[n] = p[n] - np.sign(c) * t(LR)                           # 2., 3.
            m[n] = m[n] * t(0.99) + g * t(h(1.0) - h(0.99))            # 4.
    return p


def _run(spec, backend, init, grads, resume_at=None):
    torch = pytest.importorskip("torch") if backend == "torch" else None
    params = {n: (torch.tensor(v.copy(), requires_grad=True) if torch else v.copy()) for n, v in init.items()}
    opt = optbridge.build(spec, params)
    for i, g in enumerate(grads):
        if i == resume_at:
            state = opt.state_dict()
            opt = optbridge.build(spec, params)
            opt.load_state_dict(state)
        if torch:
            for n, v in g.items():
                params[n].grad = torch.tensor(v)
            opt.step()
        else:
            opt.step(g)
    return {n: (v.detach().numpy() if torch else v) for n, v in params.items()}


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("style", [TORCH_STYLE, MINDSPORE_STYLE], ids=["torch_style", "mindspore_style"])
def test_matches_the_canonical_op_order_and_resumes(style, backend):
    init, grads = _data()
    want = _reference(style, init, grads)
    for resume_at in (None, 2):
        got = _run(style, backend, init, grads, resume_at)
        for n in SHAPES:
            np.testing.assert_array_equal(got[n], want[n], err_msg=f"{n} resume_at={resume_at}")


def test_the_styles_differ_where_their_frameworks_do():
    init, grads = _data()
    torch_style, ms_style = _reference(TORCH_STYLE, init, grads), _reference(MINDSPORE_STYLE, init, grads)
    assert not np.array_equal(torch_style["ln.gamma"], ms_style["ln.gamma"])   # the decay filter
