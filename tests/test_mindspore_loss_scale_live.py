"""The loss-scale managers against live ``mindspore.amp`` (MindSpore 2.10; ``tox run -e mindspore``).

Skipped where MindSpore is not installed; ``tests/test_mindspore_loss_scale.py`` checks the
same against the recorded goldens without it. Here each input of
``tests/goldens/loss_scale_records.py`` goes to both classes: where MindSpore accepts it, so
does optbridge (unless optbridge documents a refusal) with the same getters; where MindSpore
raises, optbridge raises a subclass of the same builtin, with MindSpore's message where that
message is MindSpore's own.
"""
from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

import pytest

ms_amp = pytest.importorskip("mindspore.amp")

from optbridge.dialects.mindspore import amp  # noqa: E402
from optbridge.errors import OptbridgeError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "goldens"))
from loss_scale_records import CONSTRUCTION_RECORDS, OPTBRIDGE_REFUSES, call  # noqa: E402


@pytest.mark.parametrize("name", ["FixedLossScaleManager", "DynamicLossScaleManager"])
def test_signature_and_defaults_live(name):
    theirs = [(p.name, p.default, p.kind) for p in inspect.signature(getattr(ms_amp, name)).parameters.values()]
    ours = [(p.name, p.default, p.kind) for p in inspect.signature(getattr(amp, name)).parameters.values()]
    assert ours == theirs


def _outcome(cls, kwargs):
    try:
        return call(cls, kwargs), None
    except Exception as exc:  # the outcome is what is compared
        return None, exc


def _same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("record_id,name,kwargs", CONSTRUCTION_RECORDS, ids=[r[0] for r in CONSTRUCTION_RECORDS])
def test_construction_live(record_id, name, kwargs):
    theirs, their_error = _outcome(getattr(ms_amp, name), kwargs)
    ours, our_error = _outcome(getattr(amp, name), kwargs)
    if record_id in OPTBRIDGE_REFUSES:
        assert their_error is None and isinstance(our_error, OptbridgeError)
        return
    if their_error is None:
        assert our_error is None, our_error
        assert _same(ours.get_loss_scale(), theirs.get_loss_scale())
        assert type(ours.get_loss_scale()) is type(theirs.get_loss_scale())
        assert ours.get_drop_overflow_update() == theirs.get_drop_overflow_update()
        return
    builtin = next(t for t in type(their_error).__mro__ if t.__module__ == "builtins")
    assert isinstance(our_error, builtin) and isinstance(our_error, OptbridgeError), (their_error, our_error)
    if "not supported between instances" not in str(their_error):
        assert str(our_error) == str(their_error).splitlines()[0]
