"""The Optax-style pair with a schedule declared in the spec (a torch ``lr_scheduler``
declaration): the state's host part carries the schedule state, so ``update`` is a function
of its arguments, replays an old state and resumes the schedule in a new transformation."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optbridge
from optbridge.dialects.torch import optim
from optbridge.errors import StateDictError
from optbridge_jax import transform

STEPS = 7


def _spec():
    decl = optim.lr_scheduler.StepLR.declare(0.1, step_size=2, gamma=0.5, interval="step")
    return optim.SGD([{"params": "w*", "lr": decl}, {"params": "b"}], lr=0.05, momentum=0.9)


def _params():
    rng = np.random.default_rng(0)
    return {"w1": jnp.asarray(rng.standard_normal((3, 4)).astype(np.float32)),
            "b": jnp.asarray(rng.standard_normal(4).astype(np.float32))}


def _grads(step: int):
    rng = np.random.default_rng(100 + step)
    return {"w1": jnp.asarray(rng.standard_normal((3, 4)).astype(np.float32)),
            "b": jnp.asarray(rng.standard_normal(4).astype(np.float32))}


def _same(a, b) -> bool:
    return all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


def _trajectory(tx):
    """Params, states and updates of ``STEPS`` updates from ``init``."""
    params = _params()
    states, all_params, all_updates = [tx.init(params)], [params], []
    for step in range(STEPS):
        updates, state = tx.update(_grads(step), states[-1], params)
        params = jax.tree_util.tree_map(jnp.add, params, updates)
        states.append(state)
        all_params.append(params)
        all_updates.append(updates)
    return all_params, states, all_updates


def test_transform_with_a_declared_schedule_matches_the_optimizer_bitwise():
    params, states, _ = _trajectory(transform(_spec()))
    opt = optbridge.build(_spec(), _params(), backend="jax")
    for step in range(STEPS):
        assert _same(opt.step(_grads(step)), params[step + 1]), step
    assert states[-1].host == opt.host_state()
    assert states[-1].host["groups"][0]["schedules"]["lr"]["kind"] == "torch.optim.lr_scheduler.StepLR"


def test_update_replays_an_old_state_with_its_schedule_state():
    tx = transform(_spec())
    params, states, updates = _trajectory(tx)
    for step in (3, 1, 5):           # older states after newer ones: the schedule goes back too
        again, state = tx.update(_grads(step), states[step], params[step])
        assert _same(again, updates[step]), step
        assert state.host == states[step + 1].host


def test_a_new_transformation_resumes_the_schedule():
    params, states, updates = _trajectory(transform(_spec()))
    resumed = transform(_spec())
    for step in range(4, STEPS):
        again, _ = resumed.update(_grads(step), states[step], params[step])
        assert _same(again, updates[step]), step


def test_a_host_state_without_the_schedule_state_is_refused():
    tx = transform(_spec())
    params, states, _ = _trajectory(tx)
    host = states[3].host
    old_form = {"global_step": host["global_step"],
                "groups": [{"host_state": g["host_state"], "lr_override": g["lr_override"]} for g in host["groups"]]}
    with pytest.raises(StateDictError, match=r"groups\[0\]: schedule states"):
        tx.update(_grads(3), states[3]._replace(host=old_form), params[3])
