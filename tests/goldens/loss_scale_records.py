"""Inputs to MindSpore 2.10's loss-scale managers, recorded by gen_mindspore_loss_scale.py.

``(record_id, class name, kwargs)``; ``tests/goldens/mindspore_loss_scale.json`` holds what
MindSpore did with each (``construction``: the exception type and first line of its message,
``type`` ``None`` where it accepts the input, and then ``get_loss_scale()`` /
``get_drop_overflow_update()``). ``OPTBRIDGE_REFUSES`` lists the inputs MindSpore accepts and
optbridge refuses, with the reason.
"""
from __future__ import annotations

FIXED, DYNAMIC = "FixedLossScaleManager", "DynamicLossScaleManager"

CONSTRUCTION_RECORDS = [
    ("fixed_default", FIXED, {}),
    ("fixed_int_scale", FIXED, {"loss_scale": 1024}),
    ("fixed_scale_one", FIXED, {"loss_scale": 1.0}),
    ("fixed_scale_below_one", FIXED, {"loss_scale": 0.5}),
    ("fixed_scale_zero", FIXED, {"loss_scale": 0}),
    ("fixed_scale_negative", FIXED, {"loss_scale": -128.0}),
    ("fixed_scale_str", FIXED, {"loss_scale": "128"}),
    ("fixed_scale_none", FIXED, {"loss_scale": None}),
    ("fixed_no_drop", FIXED, {"loss_scale": 100.0, "drop_overflow_update": False}),
    ("fixed_positional", FIXED, {"args": [64.0, False]}),
    ("fixed_scale_nan", FIXED, {"loss_scale": float("nan")}),
    ("fixed_scale_inf", FIXED, {"loss_scale": float("inf")}),
    ("fixed_scale_bool", FIXED, {"loss_scale": True}),
    ("fixed_drop_int", FIXED, {"drop_overflow_update": 0}),
    ("fixed_drop_none", FIXED, {"drop_overflow_update": None}),
    ("dynamic_default", DYNAMIC, {}),
    ("dynamic_small", DYNAMIC, {"init_loss_scale": 16, "scale_factor": 2, "scale_window": 3}),
    ("dynamic_float_factor", DYNAMIC, {"init_loss_scale": 1000.0, "scale_factor": 1.5, "scale_window": 10}),
    ("dynamic_factor_below_one", DYNAMIC, {"scale_factor": 0.5}),
    ("dynamic_init_one", DYNAMIC, {"init_loss_scale": 1}),
    ("dynamic_init_below_one", DYNAMIC, {"init_loss_scale": 0.5}),
    ("dynamic_init_str", DYNAMIC, {"init_loss_scale": "65536"}),
    ("dynamic_init_nan", DYNAMIC, {"init_loss_scale": float("nan")}),
    ("dynamic_factor_zero", DYNAMIC, {"scale_factor": 0}),
    ("dynamic_factor_negative", DYNAMIC, {"scale_factor": -2}),
    ("dynamic_factor_str", DYNAMIC, {"scale_factor": "2"}),
    ("dynamic_factor_nan", DYNAMIC, {"scale_factor": float("nan")}),
    ("dynamic_window_zero", DYNAMIC, {"scale_window": 0}),
    ("dynamic_window_negative", DYNAMIC, {"scale_window": -5}),
    ("dynamic_window_float", DYNAMIC, {"scale_window": 2000.0}),
    ("dynamic_window_bool", DYNAMIC, {"scale_window": True}),
    ("dynamic_window_str", DYNAMIC, {"scale_window": "2000"}),
    ("dynamic_init_and_window_bad", DYNAMIC, {"init_loss_scale": 0.5, "scale_window": 0}),
    ("dynamic_window_and_factor_bad", DYNAMIC, {"scale_factor": 0, "scale_window": 0}),
    ("dynamic_positional", DYNAMIC, {"args": [2.0 ** 15, 4, 100]}),
]

#: ``{record_id: why}``: inputs MindSpore 2.10 accepts that optbridge refuses
OPTBRIDGE_REFUSES = {
    "fixed_scale_nan": "a scale that is not finite: every step overflows",
    "fixed_scale_inf": "a scale that is not finite: every step overflows",
    "fixed_scale_bool": "a bool is not a loss scale",
    "fixed_drop_int": "drop_overflow_update must be a bool in a config",
    "fixed_drop_none": "drop_overflow_update must be a bool in a config",
    "dynamic_init_nan": "a scale that is not finite: every step overflows",
    "dynamic_factor_nan": "a factor that is not finite",
}


def call(cls, kwargs):
    """Construct ``cls`` from a record's kwargs (``args`` are positional)."""
    kwargs = dict(kwargs)
    return cls(*kwargs.pop("args", ()), **kwargs)
