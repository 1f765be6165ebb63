"""The Optax-style transformation with the spec's gradient transforms."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optbridge
import optbridge_jax
from optbridge.errors import SpecValueError


def test_the_spec_gradient_transforms_run_in_the_traced_step():
    """Clipping in the spec: the jitted update equals the eager optimizer bit for bit (the
    transformation ignored ``OptimizerSpec.transforms`` before); a stateful transform is refused."""
    from optbridge import transforms as T
    from optbridge.dialects.torch import optim

    spec = optim.SGD(None, lr=0.1, momentum=0.9).with_transforms(T.ClipByGlobalNorm(0.05), T.ClipByValue(0.01))
    params = {"w": jnp.asarray(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)),
              "b": jnp.asarray(np.ones(4, np.float32))}
    tx = optbridge_jax.transform(spec)
    state = tx.init(params)
    eager = optbridge.build(spec, dict(params), backend="jax")
    step = jax.jit(tx.update, compiler_options=optbridge_jax.EXACT_OPTIONS)
    current = dict(params)
    for k in range(4):
        grads = {n: jnp.asarray(np.random.default_rng(k).standard_normal(v.shape).astype(np.float32))
                 for n, v in params.items()}
        updates, state = step(grads, state, current)
        current = {n: current[n] + updates[n] for n in current}
        expected = eager.step(grads)
        for n in current:
            np.testing.assert_array_equal(np.asarray(current[n]), np.asarray(expected[n]))
    with pytest.raises(SpecValueError, match="stateless gradient transforms only"):
        optbridge_jax.transform(optim.SGD(None, lr=0.1).with_transforms(T.AccumulateGradients(2))).init(params)
