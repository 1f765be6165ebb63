"""The plugin README's ```python blocks run in order, in one namespace, and print what the
page says they print (the extraction of optbridge's own ``tests/test_docs.py``)."""
import contextlib
import importlib.util
import io
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("optbridge_test_docs", PLUGIN.parents[1] / "tests" / "test_docs.py")
test_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(test_docs)


def test_readme_examples_run_and_print_what_the_page_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = test_docs.examples(PLUGIN / "README.md")
    assert len(blocks) >= 3
    namespace: dict = {"__name__": "optbridge_mindspore_readme"}
    for index, (line, source, expected) in enumerate(blocks, start=1):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(source, f"README.md:block{index}(line {line})", "exec"), namespace)
        if expected is not None:
            assert output.getvalue() == expected, f"README.md block {index} (line {line})"
