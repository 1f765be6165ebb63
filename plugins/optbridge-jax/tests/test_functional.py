"""The functional API of the jax backend: pytrees, immutability, state, the Optax-style pair.

Numbers are compared with optbridge's NumPy reference backend (bitwise on CPU, where the
step is compiled without contraction) or, for ``fma=True``, with a float64 run.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optbridge
import optbridge_jax
from optbridge.algorithms import Algorithm
from optbridge.algorithms.sgd import SGD
from optbridge.dialects.mindspore import nn
from optbridge.errors import BackendError, ScheduleExhaustedError, SpecTypeError, StepInputError
from optbridge_jax import JaxOptimizer, transform
from optbridge_jax import ops as jax_ops
from optbridge_jax.pytree import named_leaves

RNG = np.random.default_rng(1234)


def tree(dtype="float32"):
    """A Flax-like nested parameter tree with conv, BatchNorm and dense leaves."""
    def arr(*shape):
        return RNG.standard_normal(shape).astype(dtype)
    return {"conv": {"weight": arr(16, 16, 3, 3)}, "bn": {"gamma": arr(16), "beta": arr(16)},
            "dense": [{"kernel": arr(16, 4), "bias": arr(4)}]}


def grads_like(params, step):
    rng = np.random.default_rng(step)
    return jax.tree_util.tree_map(lambda p: rng.standard_normal(p.shape).astype(p.dtype), params)


def to_jax(t):
    return jax.tree_util.tree_map(jnp.asarray, t)


def flat(t):
    names, leaves, _ = named_leaves(t)
    return {n: np.array(x, copy=True) for n, x in zip(names, leaves)}


SPECS = {
    "momentum_groups": lambda: nn.Momentum([{"params": "conv.*", "lr": 0.01, "grad_centralization": True,
                                              "weight_decay": 1e-4},
                                             {"params": "*"}], learning_rate=0.1, momentum=0.9,
                                            use_nesterov=True),
    "adam_schedule": lambda: nn.Adam(None, nn.CosineDecayLR(0.001, 0.01, 5), weight_decay=0.01, use_amsgrad=True),
    "adamw": lambda: nn.AdamWeightDecay(None, 0.01, weight_decay=0.1),
    "asgd": lambda: nn.ASGD(None, 0.05, t0=2.0),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_pytree_steps_match_numpy_bitwise(name, dtype):
    host = tree(dtype)
    ref_params = flat(host)
    ref = optbridge.build(SPECS[name](), ref_params, backend="numpy")
    params = to_jax(host)
    opt = optbridge.build(SPECS[name](), params, backend="jax")
    assert isinstance(opt, JaxOptimizer)
    for step in range(5):
        g = grads_like(host, step)
        ref.step(flat(g))
        params = opt.step(to_jax(g))
        got = flat(params)
        for n, v in ref_params.items():
            assert got[n].dtype == v.dtype
            assert np.array_equal(got[n], v), (n, step)
    sd_ref, sd = ref.state_dict(), opt.state_dict()
    assert sd["groups"] == sd_ref["groups"] and sd["global_step"] == 5
    for n, slots in sd_ref["state"].items():
        for k, v in slots.items():
            assert np.array_equal(sd["state"][n][k], v), (n, k)


def test_step_returns_new_params_and_leaves_inputs_alone():
    params = to_jax(tree())
    before = flat(params)
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), params)   # detected: a pytree of jax arrays
    assert isinstance(opt, JaxOptimizer)
    new = opt.step(grads_like(params, 0))
    assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(params)
    assert all(np.array_equal(v, flat(params)[n]) for n, v in before.items())
    assert not np.array_equal(flat(new)["conv.weight"], before["conv.weight"])
    assert opt.params is not params and flat(opt.params).keys() == before.keys()
    assert isinstance(opt.slots["dense.0.kernel"]["momentum_buffer"], jax.Array)


def test_leaf_names_are_dotted_key_paths():
    names, _, _ = named_leaves(tree())
    assert names == ("bn.beta", "bn.gamma", "conv.weight", "dense.0.bias", "dense.0.kernel")
    with pytest.raises(SpecTypeError, match="both named 'a.b'"):
        named_leaves({"a": {"b": jnp.zeros(1)}, "a.b": jnp.zeros(1)})
    with pytest.raises(SpecTypeError, match="no leaves"):
        named_leaves({})


def test_gradients_by_name_and_by_position():
    params = to_jax(tree())
    g = grads_like(params, 3)
    a = optbridge.build(nn.SGD(None, 0.1), params)
    b = optbridge.build(nn.SGD(None, 0.1), params)
    c = optbridge.build(nn.SGD(None, 0.1), params)
    by_tree = flat(a.step(g))
    by_name = flat(b.step({n: jnp.asarray(v) for n, v in flat(g).items()}))
    by_position = flat(c.step([jnp.asarray(flat(g)[n]) for n in c.param_names]))
    for n in by_tree:
        assert np.array_equal(by_tree[n], by_name[n]) and np.array_equal(by_tree[n], by_position[n])


def test_bad_gradients_raise_before_anything_changes():
    params = to_jax(tree())
    opt = optbridge.build(nn.Momentum(None, 0.1, 0.9), params)
    g = flat(grads_like(params, 0))
    with pytest.raises(StepInputError, match="no gradient for parameter"):
        opt.step({k: v for k, v in g.items() if k != "bn.gamma"})
    with pytest.raises(StepInputError, match="'conv.weight' must be an array of shape"):
        opt.step({**g, "conv.weight": np.zeros((2, 2), np.float32)})
    with pytest.raises(StepInputError, match="'bn.beta' has dtype float64"):
        opt.step({**g, "bn.beta": g["bn.beta"].astype(np.float64)})
    with pytest.raises(StepInputError, match="got 2 gradients for 5 parameters"):
        opt.step([g["bn.beta"], g["bn.gamma"]])
    assert opt.global_step == 0 and all(np.array_equal(v, flat(params)[n]) for n, v in flat(opt.params).items())


def test_failing_step_leaves_params_state_and_counter_unchanged():
    params = to_jax(tree())
    opt = optbridge.build(nn.Adam(None, [0.01, 0.02]), params)
    g = grads_like(params, 0)
    opt.step(g)
    opt.step(g)
    kept_params, kept_state = flat(opt.params), opt.state_dict()
    with pytest.raises(ScheduleExhaustedError):
        opt.step(g)
    assert opt.global_step == 2
    assert all(np.array_equal(v, kept_params[n]) for n, v in flat(opt.params).items())
    after = opt.state_dict()
    assert after["groups"] == kept_state["groups"]
    assert all(np.array_equal(after["state"][n][k], v) for n, s in kept_state["state"].items() for k, v in s.items())


def test_state_moves_between_jax_and_numpy():
    host = tree()
    params = to_jax(host)
    jopt = optbridge.build(nn.Adam(None, 0.01), params)
    for step in range(3):
        params = jopt.step(grads_like(host, step))
    ref_params = flat(params)
    nopt = optbridge.build(nn.Adam(None, 0.01), ref_params, backend="numpy")
    nopt.load_state_dict(jopt.state_dict())
    back = optbridge.build(nn.Adam(None, 0.01), params)
    back.load_state_dict(nopt.state_dict())
    for step in range(3, 6):
        g = grads_like(host, step)
        nopt.step(flat(g))
        params = back.step(g)
    assert all(np.array_equal(v, ref_params[n]) for n, v in flat(params).items())


def test_a_changing_learning_rate_does_not_recompile():
    traces = []

    def counting_sgd(alg, params, grads, slots, scalars):
        traces.append(scalars["first_step"])
        alg.update(jax_ops, params, grads, slots, scalars)

    params = {"w": jnp.ones(8, jnp.float32)}
    spec = nn.Momentum(None, nn.dynamic_lr.cosine_decay_lr(0.0, 0.1, 6, 1, 6), 0.9).to_canonical()
    opt = JaxOptimizer(spec, params, {"sgd": counting_sgd})
    lrs = []
    for _ in range(6):
        lrs.append(opt.get_lr()[0])
        opt.step({"w": jnp.ones(8, jnp.float32)})
    assert len(set(lrs)) == 6
    assert traces == [True, False]       # one trace for the first step, one for the rest


def test_an_algorithm_without_rule_needs_a_kernel_and_runs_it():
    class RulelessSGD(SGD):
        update_tensor = Algorithm.update_tensor
        update = Algorithm.update

    canonical = nn.SGD([{"params": "conv.*"}, {"params": "*"}], 0.1).to_canonical()
    spec = dataclasses.replace(canonical, algorithm=RulelessSGD(**{
        f.name: getattr(canonical.algorithm, f.name) for f in dataclasses.fields(canonical.algorithm)}))
    assert not spec.algorithm.has_rule()
    with pytest.raises(BackendError, match=r"groups\[0\] .*no rule or kernel for algorithm 'sgd'"):
        JaxOptimizer(spec, to_jax(tree()))
    ran = []

    def kernel(alg, params, grads, slots, scalars):
        ran.append(len(params))
        canonical.algorithm.update(jax_ops, params, grads, slots, scalars)

    host = tree()
    ref = optbridge.build(canonical, flat(host), backend="numpy")
    got = JaxOptimizer(spec, to_jax(host), {"sgd": kernel}).step(grads_like(host, 0))
    ref.step(flat(grads_like(host, 0)))
    assert sum(ran) == 5          # every parameter, once per bucket, traced once
    assert all(np.array_equal(v, ref.params[n]) for n, v in flat(got).items())


def test_non_array_leaves_are_refused():
    with pytest.raises(SpecTypeError, match="parameter 'w.0' must be a jax.Array"):
        optbridge.build(nn.SGD(None, 0.1), {"w": [1.0, 2.0]}, backend="jax")
    with pytest.raises(SpecTypeError, match="float32 or float64"):
        optbridge.build(nn.SGD(None, 0.1), {"w": jnp.ones(2, jnp.int32)}, backend="jax")


def test_the_optimizer_cannot_be_traced():
    params = {"w": jnp.ones(3, jnp.float32)}
    opt = optbridge.build(nn.SGD(None, 0.1), params)

    @jax.jit
    def train_step(g):
        return opt.step({"w": g})

    with pytest.raises(SpecTypeError, match="cannot be called inside jax.jit"):
        train_step(jnp.ones(3, jnp.float32))
    assert opt.global_step == 0


def test_fma_mode_stays_close_to_the_float64_reference():
    host = tree("float32")
    spec = SPECS["adam_schedule"]()
    fast = optbridge_jax.build(spec, to_jax(host), fma=True)
    exact64 = optbridge.build(spec, flat(tree_as(host, "float64")), backend="numpy")
    assert fast.fma
    for step in range(5):
        g = grads_like(host, step)
        params = fast.step(g)
        exact64.step(flat(tree_as(g, "float64")))
    for n, v in flat(params).items():
        ref = exact64.params[n]
        assert np.max(np.abs(v - ref)) <= 1e-5 * np.max(np.abs(ref)), n


def tree_as(t, dtype):
    return jax.tree_util.tree_map(lambda x: np.asarray(x, dtype=dtype), t)


# -- the Optax-style pair --------------------------------------------------------------
def test_transform_matches_the_optimizer_bitwise():
    host = tree()
    spec = SPECS["adam_schedule"]()
    tx = transform(spec)
    params = to_jax(host)
    state = tx.init(params)
    assert state.count == 0
    opt = optbridge.build(spec, to_jax(host))
    for step in range(5):
        g = grads_like(host, step)
        updates, state = tx.update(g, state, params)
        params = jax.tree_util.tree_map(jnp.add, params, updates)    # optax.apply_updates
        expected = opt.step(g)
        assert all(np.array_equal(v, flat(expected)[n]) for n, v in flat(params).items()), step
    assert state.count == 5
    saved = tx.state_dict(state, params)
    want = opt.state_dict()
    assert {k: v for k, v in saved.items() if k != "state"} == {k: v for k, v in want.items() if k != "state"}
    assert all(np.array_equal(saved["state"][n][k], want["state"][n][k])
               for n in want["state"] for k in want["state"][n])


def test_transform_update_is_a_function_of_its_arguments():
    host = tree()
    tx = transform(nn.Momentum(None, 0.1, 0.9))
    params = to_jax(host)
    state0 = tx.init(params)
    g = grads_like(host, 0)
    first, state1 = tx.update(g, state0, params)
    again, state1b = tx.update(g, state0, params)     # the old state is still valid
    assert all(np.array_equal(flat(first)[n], v) for n, v in flat(again).items())
    assert state0.count == 0 and state1.count == state1b.count == 1
    with pytest.raises(TypeError, match="update needs params"):
        tx.update(g, state1)


def test_float64_needs_x64_and_says_so():
    script = textwrap.dedent("""
        import jax, numpy as np
        jax.config.update("jax_enable_x64", False)
        import optbridge
        from optbridge import plugin
        from optbridge.dialects.mindspore import nn
        plugin.reset()
        assert plugin.get_backend("jax").dtypes == ("float32",)
        try:
            optbridge.build(nn.SGD(None, 0.1), {"w": np.zeros(2)}, backend="jax")
        except TypeError as exc:
            print(exc)
    """)
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "parameter 'w' is float64 but jax_enable_x64 is off" in out.stdout
