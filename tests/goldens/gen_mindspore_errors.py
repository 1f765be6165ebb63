"""Record MindSpore 2.10's exception type and message for every bad input in error_records.py.

Run in the goldens environment (``tox -e goldens``: ``mindspore==2.10.0``, ``numpy<2``),
PYNATIVE mode on CPU; writes ``mindspore_errors.json``: ``records`` (construction:
``RECORDS`` and ``WRAPPER_RECORDS``; ``type`` ``None`` where MindSpore accepts the input)
and ``step_records`` (``STEP_RECORDS``: inputs refused while training, with ``step``, the
number of steps that ran before the one that raised).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import mindspore
from mindspore import Parameter, Tensor, nn

sys.path.insert(0, str(Path(__file__).parent))
from error_records import RECORDS, STEP_RECORDS, WRAPPER_RECORDS  # noqa: E402

from optbridge.conformance import layouts, streams  # noqa: E402

OUT = Path(__file__).with_name("mindspore_errors.json")


def first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


def step_record(optimizer: str, kwargs: dict, steps: int, to_ms) -> dict:
    """Build ``optimizer`` and step it on the ``tiny`` stream until it raises (at most ``steps`` steps)."""
    opt = getattr(nn, optimizer)(**{**kwargs, "params": to_ms(kwargs["params"])})
    order = [p.name for p in opt.parameters]
    for step in range(steps):
        grads = streams.as_dtype(streams.gradients(layouts.tiny, step, 0), "float32")
        try:
            opt(tuple(Tensor(grads[name]) for name in order))
        except Exception as exc:
            return {"type": type(exc).__name__, "message": first_line(exc), "step": step}
    return {"type": None, "message": None, "step": steps}


def main():
    mindspore.set_context(mode=mindspore.PYNATIVE_MODE, device_target="CPU")
    init = streams.as_dtype(streams.initial_params(layouts.tiny, 0), "float32")
    parameters = {name: Parameter(Tensor(init[name]), name=name) for name, _ in layouts.tiny}

    def to_ms(params):
        """Names -> Parameters, keeping list/tuple and repeats as written."""
        if params and isinstance(params[0], dict):
            out = []
            for group in params:
                group = dict(group)
                for key in ("params", "order_params"):
                    if key in group:
                        group[key] = type(group[key])(parameters[n] for n in group[key])
                out.append(group)
            return out
        return type(params)(parameters[n] for n in params)

    results = {}
    for record_id, optimizer, kwargs in RECORDS:
        kwargs = dict(kwargs)
        kwargs["params"] = to_ms(kwargs["params"])
        try:
            getattr(nn, optimizer)(**kwargs)
            results[record_id] = {"type": None, "message": None}
        except Exception as exc:
            results[record_id] = {"type": type(exc).__name__, "message": first_line(exc)}
    for record_id, lars_kwargs, wrapped, wrapped_kwargs in WRAPPER_RECORDS:  # nn.LARS
        try:
            inner = None
            if wrapped is not None:
                inner = getattr(nn, wrapped)(**{**wrapped_kwargs, "params": to_ms(wrapped_kwargs["params"])})
            nn.LARS(inner, **lars_kwargs)
            results[record_id] = {"type": None, "message": None}
        except Exception as exc:
            results[record_id] = {"type": type(exc).__name__, "message": first_line(exc)}
    step_results = {}
    for record_id, optimizer, kwargs, steps in STEP_RECORDS:
        parameters.update({name: Parameter(Tensor(init[name]), name=name) for name, _ in layouts.tiny})
        step_results[record_id] = step_record(optimizer, kwargs, steps, to_ms)
    doc = {"generator": "tests/goldens/gen_mindspore_errors.py", "mindspore_version": mindspore.__version__,
           "records": results, "step_records": step_results}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    for k, v in {**results, **step_results}.items():
        print(k, v["type"], v.get("step", ""), v["message"])


if __name__ == "__main__":
    main()
