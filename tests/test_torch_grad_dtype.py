"""A ``.grad`` of another dtype than its parameter's is refused by name on every torch path.

torch refuses such an assignment unless the parameter's ``grad_dtype`` is set to ``None``
(torch 2.13: "You can set the tensor's grad_dtype attribute ... or None to allow any dtype").
The shipped suite cannot hand such a gradient over (its ``grads_from_numpy`` hook attaches
gradients in the parameter's dtype), so the torch backend proves it here: a
``StepInputError`` naming the parameter, and nothing changed.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from optbridge.backends.torch import Optimizer  # noqa: E402
from optbridge.dialects.torch import optim  # noqa: E402
from optbridge.errors import StepInputError  # noqa: E402

PATHS = [("auto", False), ("reference", False), ("native", False), ("compiled", False), ("auto", True)]


@pytest.mark.parametrize("path,flat", PATHS, ids=[f"{p}{'-flat' if f else ''}" for p, f in PATHS])
@pytest.mark.parametrize("param_dtype,grad_dtype", [(torch.float32, torch.float64), (torch.float64, torch.float32)])
def test_gradient_of_another_dtype_is_refused_by_name(path, flat, param_dtype, grad_dtype):
    a = torch.nn.Parameter(torch.linspace(-1.0, 1.0, 6, dtype=param_dtype).reshape(2, 3))
    b = torch.nn.Parameter(torch.linspace(0.5, 1.5, 4, dtype=param_dtype))
    opt = Optimizer([("a", a), ("b", b)], optim.Adam(None, lr=0.1), path=path, flat=flat)
    a.grad, b.grad = torch.ones_like(a), torch.full_like(b, 0.25)
    opt.step()
    before_params = [a.detach().clone(), b.detach().clone()]
    before_state = opt.neutral_state_dict()
    a.grad_dtype = None
    a.grad = torch.full(a.shape, 0.5, dtype=grad_dtype)
    with pytest.raises(StepInputError, match="'a'"):
        opt.step()
    assert all(torch.equal(x, y) for x, y in zip(before_params, [a.detach(), b.detach()]))
    assert_same_state(before_state, opt.neutral_state_dict())


def assert_same_state(before, after, path="state"):
    """``before`` and ``after`` are equal bit for bit (arrays compared as bytes with dtype and shape)."""
    if isinstance(before, np.ndarray) or isinstance(after, np.ndarray):
        assert isinstance(before, np.ndarray) and isinstance(after, np.ndarray), path
        assert (before.dtype, before.shape, before.tobytes()) == (after.dtype, after.shape, after.tobytes()), path
    elif isinstance(before, dict):
        assert isinstance(after, dict) and before.keys() == after.keys(), path
        for key in before:
            assert_same_state(before[key], after[key], f"{path}[{key!r}]")
    elif isinstance(before, (list, tuple)):
        assert type(before) is type(after) and len(before) == len(after), path
        for i, (x, y) in enumerate(zip(before, after)):
            assert_same_state(x, y, f"{path}[{i}]")
    else:
        assert before == after or (before != before and after != after), path
