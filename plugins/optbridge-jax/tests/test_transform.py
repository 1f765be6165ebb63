"""The Optax-style transformation with the spec's gradient transforms."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optbridge
import optbridge_jax
from optbridge.dialects.mindspore import nn


def _both(spec):
    """Parameters, the transformation, its state, the eager optimizer and the jitted update."""
    params = {"w": jnp.asarray(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)),
              "b": jnp.asarray(np.ones(4, np.float32))}
    tx = optbridge_jax.transform(spec)
    return (params, tx, tx.init(params), optbridge.build(spec, dict(params), backend="jax"),
            jax.jit(tx.update, compiler_options=optbridge_jax.EXACT_OPTIONS))


def test_the_spec_gradient_transforms_run_in_the_traced_step():
    """Clipping in the spec: the jitted update equals the eager optimizer bit for bit (the
    transformation ignored ``OptimizerSpec.transforms`` before)."""
    from optbridge import transforms as T
    from optbridge.dialects.torch import optim

    spec = optim.SGD(None, lr=0.1, momentum=0.9).with_transforms(T.ClipByGlobalNorm(0.05), T.ClipByValue(0.01))
    params, tx, state, eager, step = _both(spec)
    current = dict(params)
    for k in range(4):
        grads = {n: jnp.asarray(np.random.default_rng(k).standard_normal(v.shape).astype(np.float32))
                 for n, v in params.items()}
        updates, state = step(grads, state, current)
        current = {n: current[n] + updates[n] for n in current}
        expected = eager.step(grads)
        for n in current:
            np.testing.assert_array_equal(np.asarray(current[n]), np.asarray(expected[n]))


@pytest.mark.parametrize("name", ["keras_pipeline", "torch_pipeline", "mindspore_dynamic"])
def test_stateful_transforms_in_the_jitted_update_equal_the_eager_optimizer(name):
    """Loss scaling (with non-finite steps skipped), accumulation and EMAs inside ``jax.jit``: the
    same parameters, averages, step count and loss scale as the eager optimizer, bit for bit."""
    from optbridge import transforms as T
    from optbridge.dialects.keras import optimizers as kd
    from optbridge.dialects.torch import optim

    spec = {
        "keras_pipeline": kd.LossScaleOptimizer(kd.Adam(learning_rate=0.01, gradient_accumulation_steps=2,
                                                        use_ema=True, ema_overwrite_frequency=3),
                                                initial_scale=16.0, dynamic_growth_steps=2),
        "torch_pipeline": optim.SGD(None, lr=0.1, momentum=0.9).with_transforms(
            T.LossScale(form="torch", initial_scale=8.0, growth_interval=2), T.ClipByGlobalNorm(0.5),
            T.ExponentialMovingAverage(0.9, form="torch")),
        "mindspore_dynamic": nn.Momentum(None, learning_rate=0.1, momentum=0.9).with_transforms(
            T.LossScale(form="mindspore", initial_scale=16.0, growth_interval=3)),
    }[name]
    params, tx, state, eager, step = _both(spec)
    current = dict(params)
    for k in range(12):
        grads = {n: np.random.default_rng(k).standard_normal(v.shape).astype(np.float32) for n, v in params.items()}
        if k in (3, 4, 9):
            grads["w"][0, 1] = np.nan if k == 4 else np.inf
        scale = np.float32(eager.loss_scale)
        grads = {n: jnp.asarray(g * scale) for n, g in grads.items()}
        updates, state = step(grads, state, current)
        expected = eager.step(grads)
        for n in current:
            # params + updates is the new value bit for bit where an element changes by less than a factor
            # of two (Sterbenz); an EMA overwrite may jump further: within an ulp there
            np.testing.assert_allclose(np.asarray(current[n] + updates[n]), np.asarray(expected[n]), rtol=1.2e-7,
                                       atol=1e-30, err_msg=f"step {k} {n}")
            for slot, value in eager.slots[n].items():
                np.testing.assert_array_equal(np.asarray(state.slots[n][slot]), np.asarray(value),
                                              err_msg=f"step {k} {n} {slot}")
        current = {n: jnp.asarray(np.asarray(expected[n])) for n in current}  # both go on from the same values
        assert int(state.count) == eager.global_step
    ours = tx.state_dict(state, current)
    theirs = eager.state_dict()
    assert ours["transforms"] == theirs["transforms"] and ours["global_step"] == theirs["global_step"]
    for n, slots in theirs["state"].items():
        for slot, value in slots.items():
            np.testing.assert_array_equal(ours["state"][n][slot], value, err_msg=f"{n} {slot}")
    again = tx.load_state_dict(theirs, current)
    assert int(again.count) == eager.global_step
    assert all(float(again.transforms[i][k]) == v for i, t in enumerate(theirs["transforms"])
               for k, v in t["state"].items())
