"""Canonical ``lion`` with ``weight_decay_form="keras"`` against a live ``keras.optimizers.Lion``.

Keras 3 on TensorFlow, float32 variables: one Keras optimizer per optbridge group (each
group has its own lr and weight decay, as two Keras optimizers over disjoint variables
would), 24 steps of the same float32 gradients. The optbridge spec computes its host
scalars in float32 (``precision="float32"``), as Keras casts ``beta_1``/``beta_2`` to the
variable dtype and forms ``1 − β`` there. Both the NumPy reference and the TensorFlow
backend must stay within ``1e-6 + 1e-5·|x|`` of Keras at every step, parameters and the
``momentum`` slot (Keras' ``momentums``) alike.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from optbridge import plugin  # noqa: E402
from test_lion import GROUPS, SHAPES, gradients, initial_params, spec_for  # noqa: E402

STEPS = 24
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="Keras runs on TensorFlow here")


def keras_run(beta_1, beta_2, decay):
    """Keras Lion per group; returns the parameters after every step and the final momentums."""
    init = initial_params()
    variables = {n: keras.Variable(init[n].astype(np.float32), name=n.replace(".", "_")) for n in SHAPES}
    optimizers = [keras.optimizers.Lion(learning_rate=lr, beta_1=beta_1, beta_2=beta_2,
                                        weight_decay=wd if decay else None)
                  for _, lr, wd in GROUPS]
    history = []
    for grads in gradients(STEPS):
        for (names, _, _), opt in zip(GROUPS, optimizers):
            opt.apply_gradients([(tf.constant(grads[n].astype(np.float32)), variables[n]) for n in names])
        history.append({n: v.numpy().copy() for n, v in variables.items()})
    momentum = {}
    for (names, _, _), opt in zip(GROUPS, optimizers):
        for n in names:
            momentum[n] = opt._momentums[opt._get_variable_index(variables[n])].numpy()
    return history, momentum


def optbridge_run(backend_name, beta_1, beta_2, decay):
    spec = spec_for("keras", precision="float32", beta_1=beta_1, beta_2=beta_2)
    if not decay:
        spec = dataclasses.replace(spec, groups=tuple(dataclasses.replace(g, weight_decay=None) for g in spec.groups))
    backend = plugin.get_backend(backend_name)
    params = backend.make_params(initial_params(), "float32")
    opt = backend.build(spec, params, backend.kernels)
    history = []
    for grads in gradients(STEPS):
        opt.step(backend.grads_from_numpy({n: g.astype(np.float32) for n, g in grads.items()}, params))
        history.append(backend.to_numpy(params))
    momentum = {n: np.asarray(opt.state_dict()["state"][n]["momentum"]) for n in SHAPES}
    return history, momentum


def within(got, want) -> np.ndarray:
    return np.abs(got.astype(np.float64) - want.astype(np.float64)) <= 1e-6 + 1e-5 * np.abs(want.astype(np.float64))


@pytest.mark.parametrize("backend_name", ["numpy", "tensorflow"])
@pytest.mark.parametrize("beta_1,beta_2,decay", [(0.9, 0.99, True), (0.9, 0.99, False), (0.5, 0.95, True)],
                         ids=["defaults-wd", "defaults-nowd", "betas-wd"])
def test_matches_keras_lion(backend_name, beta_1, beta_2, decay):
    ref_hist, ref_mom = keras_run(beta_1, beta_2, decay)
    hist, mom = optbridge_run(backend_name, beta_1, beta_2, decay)
    equal = total = 0
    for step, (got, want) in enumerate(zip(hist, ref_hist)):
        for n in SHAPES:
            assert got[n].dtype == np.float32
            ok = within(got[n], want[n])
            assert ok.all(), f"{n} after step {step}: max deviation {np.abs(got[n] - want[n]).max():.3e}"
            equal += int(np.sum(got[n] == want[n]))
            total += want[n].size
    for n in SHAPES:
        assert within(mom[n], ref_mom[n]).all(), f"{n} momentum"
        equal += int(np.sum(mom[n] == ref_mom[n]))
        total += mom[n].size
    print(f"lion vs keras.optimizers.Lion [{backend_name}, beta=({beta_1}, {beta_2}), wd={decay}]: "
          f"bit-identical {equal}/{total} = {equal / total:.4f}")
