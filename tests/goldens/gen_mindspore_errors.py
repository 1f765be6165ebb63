"""Record MindSpore 2.10's exception type and message for every bad input in error_records.py.

Run in the goldens environment (``tox -e goldens``); writes ``mindspore_errors.json``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import mindspore
from mindspore import Parameter, Tensor, nn

sys.path.insert(0, str(Path(__file__).parent))
from error_records import RECORDS, WRAPPER_RECORDS  # noqa: E402

from optbridge.conformance import layouts, streams  # noqa: E402

OUT = Path(__file__).with_name("mindspore_errors.json")


def main():
    init = streams.as_dtype(streams.initial_params(layouts.tiny, 0), "float32")
    parameters = {name: Parameter(Tensor(init[name]), name=name) for name, _ in layouts.tiny}

    def to_ms(params):
        if params and isinstance(params[0], dict):
            out = []
            for group in params:
                group = dict(group)
                for key in ("params", "order_params"):
                    if key in group:
                        group[key] = [parameters[n] for n in group[key]]
                out.append(group)
            return out
        return [parameters[n] for n in params]

    results = {}
    for record_id, optimizer, kwargs in RECORDS:
        kwargs = dict(kwargs)
        kwargs["params"] = to_ms(kwargs["params"])
        try:
            getattr(nn, optimizer)(**kwargs)
            results[record_id] = {"type": None, "message": None}
        except Exception as exc:
            results[record_id] = {"type": type(exc).__name__, "message": str(exc).splitlines()[0]}
    for record_id, lars_kwargs, wrapped, wrapped_kwargs in WRAPPER_RECORDS:  # nn.LARS
        try:
            inner = None
            if wrapped is not None:
                inner = getattr(nn, wrapped)(**{**wrapped_kwargs, "params": to_ms(wrapped_kwargs["params"])})
            nn.LARS(inner, **lars_kwargs)
            results[record_id] = {"type": None, "message": None}
        except Exception as exc:
            results[record_id] = {"type": type(exc).__name__, "message": str(exc).splitlines()[0]}
    doc = {"generator": "tests/goldens/gen_mindspore_errors.py", "mindspore_version": mindspore.__version__,
           "records": results}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    for k, v in results.items():
        print(k, v["type"], v["message"])


if __name__ == "__main__":
    main()
