"""Every documented MindSpore bad input raises MindSpore's exception type and message.

The expected type and message of each record in ``goldens/error_records.py`` were
recorded from MindSpore 2.10 itself (``goldens/gen_mindspore_errors.py``). optbridge's
messages additionally name the group at fault (``groups[1] ('conv*'): ``); that insertion
is removed before comparing.
"""
from __future__ import annotations

import builtins
import json
import re
import sys
from pathlib import Path

import pytest

from optbridge.dialects.mindspore import nn

sys.path.insert(0, str(Path(__file__).parent / "goldens"))
from error_records import RECORDS  # noqa: E402

GOLDEN = json.loads((Path(__file__).parent / "goldens" / "mindspore_errors.json").read_text())["records"]

# Inputs MindSpore accepts but optbridge refuses at construction, with the reason.
STRICTER = {
    "lr_2d_table": "MindSpore keeps a 2-D learning-rate table and fails only when the graph runs",
}
LOCATION = re.compile(r"groups\[\d+\](?: \(.*?\))?(?: '[a-z_]+')?: ")


def normalise(message: str) -> str:
    return LOCATION.sub("", message).strip('"')


@pytest.mark.parametrize("record_id,optimizer,kwargs", RECORDS, ids=[r[0] for r in RECORDS])
def test_same_exception_as_mindspore(record_id, optimizer, kwargs):
    expected = GOLDEN[record_id]
    cls = getattr(nn, optimizer)
    if expected["type"] is None:
        assert record_id in STRICTER, f"{record_id}: MindSpore accepts this input"
        with pytest.raises((TypeError, ValueError)):
            cls(**kwargs)
        return
    with pytest.raises(getattr(builtins, expected["type"])) as info:
        cls(**kwargs)
    message = info.value.args[0] if info.value.args else ""
    assert normalise(str(message)) == normalise(expected["message"])


def test_group_errors_name_the_group():
    with pytest.raises(ValueError, match=r"groups\[1\] \('fc\.\*'\): the 'weight_decay' must be float"):
        nn.Momentum([{"params": "conv*"}, {"params": "fc.*", "weight_decay": -0.1}], 0.1, 0.9)
    with pytest.raises(KeyError, match=r"groups\[0\]: the key in group params"):
        nn.Adam([{"params": "*", "betas": (0.9, 0.99)}])
