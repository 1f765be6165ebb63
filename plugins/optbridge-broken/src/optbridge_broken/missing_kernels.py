"""A backend ``halfbaked`` with a kernel for ``sgd`` only and nothing declared unsupported.

It runs NumPy arrays through optbridge's reference optimizer with its own kernel table,
so ``sgd`` cases pass and every other algorithm's cases fail, naming the missing kernel.
"""
import numpy as np

from optbridge.backends.numpy import NumpyOptimizer, ops
from optbridge.plugin import Backend, hookimpl


def _build(spec, params, kernels):
    return NumpyOptimizer(spec, params, kernels=kernels)


@hookimpl
def optbridge_backends() -> list[Backend]:
    return [Backend(
        name="halfbaked",
        build=_build,
        kernels={"sgd": lambda alg, params, grads, slots, scalars: alg.update(ops, params, grads, slots, scalars)},
        version="0.1.0",
        make_params=lambda values, dtype: {k: np.array(v, dtype=dtype) for k, v in values.items()},
        to_numpy=lambda params: {k: v.copy() for k, v in params.items()},
        grads_from_numpy=lambda grads, params: dict(grads),
    )]
