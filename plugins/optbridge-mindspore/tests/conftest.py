"""The plugin's tests run MindSpore on CPU in PYNATIVE_MODE (a test that needs GRAPH_MODE
sets it and puts PYNATIVE back), with optbridge's plugins discovered afresh."""
import mindspore
import pytest

from optbridge import plugin

mindspore.set_context(mode=mindspore.PYNATIVE_MODE, device_target="CPU")
plugin.reset()


@pytest.fixture
def graph_mode(tmp_path, monkeypatch):
    """The context in GRAPH_MODE for one test, run in ``tmp_path`` (a refused compilation
    writes ``rank_0/om/analyze_fail.ir`` into the working directory)."""
    monkeypatch.chdir(tmp_path)
    mindspore.set_context(mode=mindspore.GRAPH_MODE)
    try:
        yield
    finally:
        mindspore.set_context(mode=mindspore.PYNATIVE_MODE)
