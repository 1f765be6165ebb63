"""Canonical rmsprop/adagrad/adamax/adafactor flags that no dialect class exercises yet.

The Keras 3 variants (flags given now, dialect classes later) run here against float64
re-derivations of Keras's own formulas (``keras/src/optimizers/rmsprop.py``, ``adagrad.py``,
``adamax.py``), and bad flag values are refused with the field named.
"""
from __future__ import annotations

import numpy as np
import pytest

import optbridge
from optbridge.algorithms import Adafactor, Adagrad, Adamax, RMSProp
from optbridge.schedules.values import Constant
from optbridge.spec import OptimizerSpec

RNG = np.random.default_rng(5)
START = RNG.standard_normal((3, 4))
GRADS = [RNG.standard_normal((3, 4)) for _ in range(6)]
LR = 0.01


def run(algorithm) -> np.ndarray:
    params = {"w": START.copy()}
    opt = optbridge.build(OptimizerSpec(algorithm=algorithm, lr=Constant(LR)), params, backend="numpy")
    for g in GRADS:
        opt.step({"w": g})
    return params["w"]


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.9, False), (0.5, True)])
def test_keras_rmsprop(momentum, centered):
    rho, eps = 0.9, 1e-7
    p, v, ga, b = START.copy(), np.zeros_like(START), np.zeros_like(START), np.zeros_like(START)
    for g in GRADS:
        v = rho * v + (1 - rho) * g * g
        denominator = v + eps
        if centered:
            ga = rho * ga + (1 - rho) * g
            denominator = v - ga * ga + eps
        increment = LR * g / np.sqrt(denominator)
        if momentum > 0:
            b = momentum * b + increment
            p = p - b
        else:
            p = p - increment
    ours = run(RMSProp(alpha=rho, eps=eps, momentum=momentum, centered=centered, eps_placement="inside",
                       lr_placement="inside", arithmetic="keras"))
    np.testing.assert_allclose(ours, p, rtol=1e-12, atol=1e-14)


def test_keras_adagrad():
    s, p = np.full_like(START, 0.1), START.copy()
    for g in GRADS:
        s = s + g * g
        p = p - LR * g / np.sqrt(s + 1e-7)
    ours = run(Adagrad(eps=1e-7, initial_accumulator_value=0.1, eps_placement="inside"))
    np.testing.assert_allclose(ours, p, rtol=1e-12, atol=1e-14)


def test_keras_adamax():
    b1, b2, eps = 0.9, 0.5, 1e-7
    m, u, p = np.zeros_like(START), np.zeros_like(START), START.copy()
    for t, g in enumerate(GRADS, start=1):
        m = m + (g - m) * (1 - b1)
        u = np.maximum(b2 * u, np.abs(g))
        p = p - LR * m / ((1 - b1 ** t) * (u + eps))
    ours = run(Adamax(beta1=b1, beta2=b2, eps=eps, eps_placement="denominator", arithmetic="keras"))
    np.testing.assert_allclose(ours, p, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("make,field", [
    (lambda: RMSProp(eps_placement="both"), "eps_placement"),
    (lambda: RMSProp(arithmetic="jax"), "arithmetic"),
    (lambda: Adagrad(eps_placement="outer"), "eps_placement"),
    (lambda: Adamax(power_form="exp"), "power_form"),
    (lambda: Adafactor(lr_rule="constant"), "lr_rule"),
    (lambda: Adafactor(arithmetic="torch", eps1_placement="add"), "eps1_placement"),
])
def test_bad_flags_name_the_field(make, field):
    with pytest.raises(ValueError, match=field):
        make()
