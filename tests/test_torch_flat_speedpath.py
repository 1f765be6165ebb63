"""Flat-buffer mode's per-step view check and its cached per-step state.

Every operation the flat.py docstring forbids or copies in is made once, and the test
asserts both the fast check's verdict (``FlatBuffers.intact()`` False) and what
``step()`` then does, against a per-tensor optimizer fed the same gradients. A fast
check that missed any of them would let ``step()`` train on the stale buffer: these
tests fail if ``intact()`` returned True unconditionally. Every test runs twice: with
the compiled check (``hostscan``) and with the Python one.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from optbridge.backends.torch import Optimizer, hostscan  # noqa: E402
from optbridge.backends.torch.flat import FlatBuffers  # noqa: E402
from optbridge.dialects.mindspore import nn  # noqa: E402
from optbridge.errors import StepInputError  # noqa: E402


@pytest.fixture(autouse=True, params=["compiled", "python"])
def scan_mode(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setenv(hostscan.ENV_SWITCH, "0")
    else:
        assert hostscan.load() is not None, hostscan.build_error()
    return request.param


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.sq = torch.nn.Linear(3, 3)
        self.head = torch.nn.Linear(3, 2)


def pair():
    """A flat optimizer and a per-tensor twin on identical models."""
    model, twin = Net(), Net()
    opt = Optimizer(model.named_parameters(), nn.Momentum(None, 0.1, 0.9), flat=True)
    ref = Optimizer(twin.named_parameters(), nn.Momentum(None, 0.1, 0.9))
    for m in (model, twin):
        for i, p in enumerate(m.parameters()):
            p.grad = torch.full_like(p, 0.25 * (i + 1))
    opt.step()
    ref.step()
    return model, twin, opt, ref


def buffers(opt) -> FlatBuffers:
    (unit,), = opt._units
    assert unit.flat is not None
    return unit.flat


def assert_same(model, twin):
    for (n, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.equal(a, b), n


def step_both(opt, ref):
    opt.step()
    ref.step()


def test_an_untouched_bucket_passes_the_fast_check():
    model, twin, opt, ref = pair()
    fb = buffers(opt)
    assert fb.intact()
    views = fb.grad_views
    step_both(opt, ref)
    assert fb.grad_views is views and all(p.grad is v for p, v in zip(model.parameters(), views))
    assert_same(model, twin)


def test_a_hand_assigned_gradient_fails_the_fast_check_and_is_copied_in():
    model, twin, opt, ref = pair()
    g = torch.randn(3, 3)
    model.sq.weight.grad = g.clone()
    twin.sq.weight.grad = g.clone()
    assert not buffers(opt).intact()
    step_both(opt, ref)
    assert_same(model, twin)
    assert buffers(opt).intact() and model.sq.weight.grad.data_ptr() == buffers(opt).grad.data_ptr()


@pytest.mark.parametrize("how", ["set_", "data"])
def test_a_gradient_view_moved_to_other_memory_fails_the_fast_check_and_is_copied_in(how):
    model, twin, opt, ref = pair()
    g = torch.randn(2)
    view = model.head.bias.grad
    if how == "set_":
        view.set_(g.clone())
    else:
        view.data = g.clone()
    twin.head.bias.grad = g.clone()
    assert model.head.bias.grad is view and not buffers(opt).intact()
    step_both(opt, ref)
    assert_same(model, twin)
    assert buffers(opt).intact()


def test_a_transposed_alias_of_the_view_is_read_as_its_values():
    model, twin, opt, ref = pair()
    model.sq.weight.grad = model.sq.weight.grad.t()
    twin.sq.weight.grad = twin.sq.weight.grad.t().contiguous()
    # the same memory with other strides: same data_ptr, so only the identity pass catches it
    assert model.sq.weight.grad.data_ptr() == buffers(opt).grad_ptrs[0]
    assert not buffers(opt).intact()
    step_both(opt, ref)
    assert_same(model, twin)


@pytest.mark.parametrize("how", ["resize_", "as_strided_"])
def test_a_gradient_view_reshaped_in_place_fails_the_fast_check(how):
    model, twin, opt, ref = pair()
    view = model.sq.weight.grad
    if how == "resize_":
        view.resize_(9)                          # same memory, other shape
    else:
        twin.sq.weight.grad = twin.sq.weight.grad.t().contiguous()
        view.as_strided_((3, 3), (1, 3))         # same memory, transposed strides
    assert model.sq.weight.grad is view and view.data_ptr() == buffers(opt).grad_ptrs[0]
    assert not buffers(opt).intact()
    if how == "resize_":
        with pytest.raises(StepInputError, match="sq.weight.*shape"):
            opt.step()
    else:
        step_both(opt, ref)
        assert_same(model, twin)
        assert buffers(opt).intact()


def test_grad_none_fails_the_fast_check_and_raises_before_anything_is_copied():
    model, twin, opt, ref = pair()
    fb = buffers(opt)
    before = fb.grad.clone()
    model.sq.weight.grad = torch.randn(3, 3)   # would be copied in ...
    model.head.bias.grad = None               # ... but a later parameter is refused
    assert not fb.intact()
    with pytest.raises(StepInputError, match="head.bias.*grad None"):
        opt.step()
    assert torch.equal(fb.grad, before)
    assert opt.global_step == 1


def test_replaced_parameter_data_fails_the_fast_check_and_raises():
    model, twin, opt, ref = pair()
    model.head.weight.data = model.head.weight.data.clone()
    assert not buffers(opt).intact()
    with pytest.raises(StepInputError, match="head.weight"):
        opt.step()


def test_zero_grad_reattaches_the_same_view_objects():
    model, twin, opt, ref = pair()
    fb = buffers(opt)
    views = fb.grad_views
    opt.zero_grad()
    assert fb.grad_views is views and all(p.grad is v for p, v in zip(model.parameters(), views))
    assert torch.count_nonzero(fb.grad) == 0
    model.zero_grad()   # torch's Module.zero_grad sets every .grad to None
    assert all(p.grad is None for p in model.parameters())
    opt.zero_grad(set_to_none=False)
    assert fb.grad_views is views and all(p.grad is v for p, v in zip(model.parameters(), views))
    torch.nn.functional.mse_loss(model.head(model.sq(torch.ones(4, 3))), torch.zeros(4, 2)).backward()
    assert fb.intact() and torch.count_nonzero(fb.grad) > 0


def test_zero_grad_keeps_torch_semantics_for_per_tensor_buckets_next_to_flat_ones():
    # gradient centralization keeps a bucket per tensor (MindSpore centralizes shape[1] % 16 == 0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 2), torch.nn.Linear(2, 3))
    spec = nn.Momentum([{"params": ["0.weight"], "grad_centralization": True},
                        {"params": ["0.bias", "1.weight", "1.bias"]}], 0.1, 0.9)
    opt = Optimizer(model.named_parameters(), spec, flat=True)
    assert [u.flat is not None for units in opt._units for u in units] == [False, True]
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.zero_grad()
    assert model[0].weight.grad is None
    assert all(p.grad is not None and torch.count_nonzero(p.grad) == 0 for p in list(model.parameters())[1:])
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and torch.count_nonzero(p.grad) == 0 for p in model.parameters())


def test_the_per_step_lists_are_built_once():
    model, twin, opt, ref = pair()
    (unit,), = opt._units
    grads, params, slots = unit.flat_grads, unit.flat_params, unit.flat_slots
    assert grads == [unit.flat.grad] and params[0] is unit.flat.param
    assert all(v[0] is unit.flat.slots[k] for k, v in slots.items())
    for _ in range(3):
        for p, q in zip(model.parameters(), twin.parameters()):
            p.grad.copy_(torch.full_like(p, 0.5))
            q.grad = torch.full_like(q, 0.5)
        step_both(opt, ref)
    assert unit.flat_grads is grads and unit.flat_params is params and unit.flat_slots is slots
    assert_same(model, twin)
