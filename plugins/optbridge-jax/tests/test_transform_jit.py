"""The whole step of ``optbridge_jax.transform`` runs inside the user's ``jax.jit``.

The eager optimizer (``optbridge.build(..., backend="jax")``) is the reference: the jitted
``update`` must give its parameters bit for bit over 20 steps with schedules — a declared
torch ``StepLR``, a per-step list, bias corrections, flags that change with the step
(SGD's first step, RAdam's rectification, ASGD's averaging), a nested algorithm (LARS) —
both from the device table and, past a short ``horizon``, from the host callback.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optbridge
import optbridge_jax
from optbridge.dialects.mindspore import nn
from optbridge.dialects.torch import optim

STEPS = 20


def _params():
    rng = np.random.default_rng(0)
    return {"w": jnp.asarray(rng.standard_normal((4, 32)).astype(np.float32)),
            "b": jnp.asarray(rng.standard_normal(32).astype(np.float32)),
            "gamma": jnp.asarray(rng.standard_normal(8).astype(np.float32))}


def _grads(step: int):
    rng = np.random.default_rng(1000 + step)
    return {"w": jnp.asarray(rng.standard_normal((4, 32)).astype(np.float32)),
            "b": jnp.asarray(rng.standard_normal(32).astype(np.float32)),
            "gamma": jnp.asarray(rng.standard_normal(8).astype(np.float32))}


SPECS = {
    "torch.Adam+StepLR": lambda: optim.Adam(
        [{"params": "w", "lr": optim.lr_scheduler.StepLR.declare(0.01, step_size=3, gamma=0.5, interval="step")},
         {"params": ["b", "gamma"], "weight_decay": 0.1}], lr=0.005),
    "torch.SGD nesterov+list": lambda: optim.SGD(
        "*", lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "mindspore.Momentum+dynamic_lr": lambda: nn.Momentum(
        None, [0.1 * 0.9 ** i for i in range(STEPS)], 0.9, weight_decay=0.001),
    "torch.RAdam decoupled": lambda: optim.RAdam("*", lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "torch.ASGD": lambda: optim.ASGD("*", lr=0.01, t0=5),
    "mindspore.LARS(Momentum)": lambda: nn.LARS(nn.Momentum(None, 0.1, 0.9)),
    "torch.AdamW amsgrad maximize": lambda: optim.AdamW("*", lr=0.01, amsgrad=True, maximize=True),
    "mindspore.AdaFactor": lambda: nn.AdaFactor(None, beta1=0.9, weight_decay=0.01),
}


def _eager(spec):
    """The eager optimizer's parameters and slots before and after each step."""
    opt = optbridge.build(spec, _params(), backend="jax")
    params, slots = [opt.param_tree], [opt.slots]
    for step in range(STEPS):
        params.append(opt.step(_grads(step)))
        slots.append({n: dict(s) for n, s in opt.slots.items()})
    return params, slots


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("horizon", [STEPS, 7], ids=["table", "table+callback"])
def test_jitted_update_equals_the_eager_optimizer_bit_for_bit(name, horizon):
    """Each jitted ``update``, fed the eager optimizer's parameters, returns exactly the
    eager step's change (``new − old``, the same float subtraction) and its slots."""
    params, slots = _eager(SPECS[name]())
    tx = optbridge_jax.transform(SPECS[name](), horizon=horizon)
    update = jax.jit(tx.update, compiler_options=optbridge_jax.EXACT_OPTIONS)
    state = tx.init(params[0])
    for step in range(STEPS):
        updates, state = update(_grads(step), state, params[step])
        for k in updates:
            want = np.asarray(params[step + 1][k]) - np.asarray(params[step][k])
            np.testing.assert_array_equal(np.asarray(updates[k]), want, err_msg=f"step {step} {k}")
            for slot, value in slots[step + 1][k].items():
                np.testing.assert_array_equal(np.asarray(state.slots[k][slot]), np.asarray(value),
                                              err_msg=f"step {step} {k}.{slot}")
    assert int(state.count) == STEPS
    assert update._cache_size() == 1  # traced once: a new step count never recompiles


def test_a_jitted_training_loop_follows_the_eager_optimizer():
    """The user's loop: ``params + updates`` inside one jitted train step. Exact wherever an
    element changes by less than a factor of two (Sterbenz); here every step of Adam."""
    spec = SPECS["torch.Adam+StepLR"]
    params, _ = _eager(spec())
    tx = optbridge_jax.transform(spec(), horizon=5)

    def train_step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return jax.tree_util.tree_map(jnp.add, params, updates), state

    train_step = jax.jit(train_step, compiler_options=optbridge_jax.EXACT_OPTIONS)
    current, state = params[0], tx.init(params[0])
    for step in range(STEPS):
        current, state = train_step(current, state, _grads(step))
        for k in current:
            np.testing.assert_array_equal(np.asarray(current[k]), np.asarray(params[step + 1][k]),
                                          err_msg=f"step {step} {k}")


def test_past_a_per_step_list_eager_update_raises_and_a_jitted_one_gives_nan():
    spec = nn.Momentum(None, [0.1, 0.05], 0.9)
    tx = optbridge_jax.transform(spec, horizon=1)
    params = _params()
    state = tx.init(params)
    for step in range(2):
        _, state = tx.update(_grads(step), state, params)
    with pytest.raises(optbridge.errors.ScheduleExhaustedError, match="end after 2 steps"):
        tx.update(_grads(2), state, params)
    updates, _ = jax.jit(tx.update)(_grads(2), state, params)
    assert all(np.isnan(np.asarray(u)).all() for u in updates.values())
