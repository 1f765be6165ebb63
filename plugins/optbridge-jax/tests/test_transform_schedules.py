"""The Optax-style pair with a schedule declared in the spec (a torch ``lr_scheduler``
declaration): every host value follows from the step count, so ``update`` is a function of
its arguments, replays an old state and resumes the schedule in a new transformation; the
neutral state dict round-trips, and a state the count cannot reproduce is refused."""
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
    saved = transform(_spec()).state_dict(states[-1], params[-1])
    assert _host(saved) == _host(opt.state_dict())
    assert saved["groups"][0]["schedules"]["lr"]["kind"] == "torch.optim.lr_scheduler.StepLR"


def test_update_replays_an_old_state_with_its_schedule_state():
    tx = transform(_spec())
    params, states, updates = _trajectory(tx)
    for step in (3, 1, 5):           # older states after newer ones: the schedule goes back too
        again, state = tx.update(_grads(step), states[step], params[step])
        assert _same(again, updates[step]), step
        assert int(state.count) == step + 1
        assert all(_same(state.slots[n], states[step + 1].slots[n]) for n in state.slots)


def test_a_new_transformation_resumes_the_schedule():
    params, states, updates = _trajectory(transform(_spec()))
    resumed = transform(_spec())
    for step in range(4, STEPS):
        again, _ = resumed.update(_grads(step), states[step], params[step])
        assert _same(again, updates[step]), step


def _host(sd):
    return {k: v for k, v in sd.items() if k != "state"}


def test_the_eager_optimizers_state_dict_continues_in_the_transformation():
    opt = optbridge.build(_spec(), _params(), backend="jax")
    for step in range(3):
        opt.step(_grads(step))
    tx = transform(_spec())
    params = opt.param_tree
    state = tx.load_state_dict(opt.state_dict(), params)
    assert int(state.count) == 3
    for step in range(3, STEPS):
        updates, state = tx.update(_grads(step), state, params)
        params = jax.tree_util.tree_map(jnp.add, params, updates)
        assert _same(params, opt.step(_grads(step))), step


def test_a_state_dict_without_the_schedule_state_is_refused():
    opt = optbridge.build(_spec(), _params(), backend="jax")
    opt.step(_grads(0))
    sd = opt.state_dict()
    sd["format_version"] = 1
    del sd["transforms"]  # format 4's
    for group in sd["groups"]:
        for key in ("schedules", "scheduler_values", "hyperparameters", "first_step"):
            group.pop(key)
    with pytest.raises(StateDictError, match=r"groups\[0\]: schedule states"):
        transform(_spec()).load_state_dict(sd, opt.param_tree)


def test_a_state_the_step_count_cannot_reproduce_is_refused():
    spec = optim.SGD("*", lr=0.05, momentum=0.9)
    opt = optbridge.build(spec, _params(), backend="jax")
    opt.step(_grads(0))
    opt.set_lr(0.2)
    with pytest.raises(StateDictError, match=r"groups\[0\]: \['lr_override'\] differ from the spec's own after 1"):
        transform(spec).load_state_dict(opt.state_dict(), opt.param_tree)


def test_an_epoch_interval_schedule_is_refused_not_frozen():
    decl = optim.lr_scheduler.StepLR.declare(0.1, step_size=2, gamma=0.5)   # interval="epoch"
    spec = optim.SGD([{"params": "w*", "lr": decl}, {"params": "b"}], lr=0.05)
    with pytest.raises(ValueError, match=r"groups\[0\] .*\['lr'\] follow an epoch-interval schedule"):
        transform(spec).init(_params())
