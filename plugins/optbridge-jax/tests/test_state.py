"""State dicts on the JAX backend: every mutation of a real state dict is refused whole
(the shipped :mod:`optbridge.conformance.state_faults` check), and the Optax-style
``restore`` checks the host state and slots it is handed before it changes anything."""
import jax.numpy as jnp
import numpy as np
import pytest

from optbridge.conformance.state_faults import STATE_FAULT_CASES, check_state_faults
from optbridge.dialects.mindspore import nn
from optbridge.errors import StateDictError
from optbridge_jax import transform


@pytest.mark.parametrize("case", sorted(STATE_FAULT_CASES))
def test_every_mutation_is_refused_whole_or_harmless(case):
    report = check_state_faults("jax", case)
    print(report)
    assert report.refused > 100


def _adam_state():
    tx = transform(nn.Adam(None, 0.01))
    params = {"w": jnp.ones(3, jnp.float32)}
    state = tx.init(params)
    _, state = tx.update({"w": jnp.ones(3, jnp.float32)}, state, params)
    return tx, params, state


@pytest.mark.parametrize("host_state", [{"beta1_power": "abc", "beta2_power": 0.9},
                                        {"beta1_power": float("nan"), "beta2_power": 0.9}, {"beta1_power": 0.9}])
def test_load_state_dict_refuses_a_bad_host_state(host_state):
    tx, params, state = _adam_state()
    sd = tx.state_dict(state, params)
    sd["groups"][0]["host_state"] = host_state
    with pytest.raises(StateDictError, match=r"groups\[0\]\.host_state"):
        tx.load_state_dict(sd, params)
    again = tx.load_state_dict(tx.state_dict(state, params), params)   # the good state loads
    assert int(again.count) == 1 and np.array_equal(again.slots["w"]["exp_avg"], state.slots["w"]["exp_avg"])


def test_update_refuses_slots_of_another_shape_or_dtype():
    tx, params, state = _adam_state()
    for bad in (jnp.ones(4, jnp.float32), jnp.ones(3, jnp.int32)):
        slots = {"w": dict(state.slots["w"], exp_avg=bad)}
        with pytest.raises(StateDictError, match=r"state\['w'\]\.exp_avg"):
            tx.update({"w": jnp.ones(3, jnp.float32)}, state._replace(slots=slots), params)
    updates, _ = tx.update({"w": jnp.ones(3, jnp.float32)}, state, params)  # the good state still works
    assert np.all(np.isfinite(np.asarray(updates["w"])))
