"""The documentation's examples run: every ```python block of docs/*.md and README.md.

Each page is one test (id = the page's file name). Its ``python`` blocks run in order in
one fresh namespace, so a later block may use names an earlier one defined; blocks fenced
as anything else (``text``, ``toml``, ``bash``) are shown, not run. When a python block is
followed by a paragraph reading just ``prints`` and a ``text`` block, the python block's
output must equal that text. A failing block is reported with the page, the block's
number and its first line in the page.
"""
from __future__ import annotations

import contextlib
import io
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\S*)\s*$")


def fenced_blocks(path: Path) -> list[tuple[str, int, str, str]]:
    """``(language, first line number, source, text before the fence)`` of every fenced block."""
    blocks: list[tuple[str, int, str, str]] = []
    language: str | None = None
    start = 0
    lines: list[str] = []
    prose: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = FENCE.match(line)
        if language is None:
            if match:
                language, start, lines = match.group(1), number + 1, []
                before, prose = "\n".join(prose), []
            else:
                prose.append(line)
            continue
        if line.strip() == "```":
            blocks.append((language, start, "\n".join(lines) + "\n", before))
            language = None
            continue
        lines.append(line)
    if language is not None:
        raise AssertionError(f"{path.name}: the block opened at line {start - 1} is never closed")
    return blocks


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """``(first line number, source)`` of every ```python block of a Markdown file."""
    return [(line, source) for language, line, source, _ in fenced_blocks(path) if language == "python"]


def examples(path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, source, expected stdout or None)`` of every ```python block.

    A python block whose next block is a ```text block introduced by a paragraph that is
    just ``prints`` must print exactly that text.
    """
    blocks = fenced_blocks(path)
    found = []
    for i, (language, line, source, _) in enumerate(blocks):
        if language != "python":
            continue
        expected = None
        if i + 1 < len(blocks):
            next_language, _, next_source, between = blocks[i + 1]
            if next_language == "text" and between.strip() == "prints":
                expected = next_source
        found.append((line, source, expected))
    return found


def pages() -> list[Path]:
    found = sorted(DOCS.glob("*.md"))
    readme = ROOT / "README.md"
    if readme.exists() and python_blocks(readme):
        found.append(readme)
    return found


PAGES = pages()


def test_docs_exist():
    names = {p.name for p in DOCS.glob("*.md")}
    expected = {"index.md", "spec-layer.md", "dialects.md", "groups.md", "schedules.md", "configs.md",
                "plugins.md", "conformance.md", "writing-a-backend-plugin.md", "adding-an-algorithm.md"}
    assert expected <= names, f"missing pages: {sorted(expected - names)}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page: Path, monkeypatch):
    blocks = python_blocks(page)
    if not blocks:
        pytest.skip(f"{page.name} has no python blocks")
    # Examples use paths relative to the repository root (tests/goldens/...).
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("OPTBRIDGE_PLUGINS", raising=False)   # every installed plugin, as users see it
    from optbridge import plugin

    plugin.reset()
    namespace: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    started = time.perf_counter()
    try:
        for index, (line, source, expected) in enumerate(examples(page), start=1):
            where = f"{page.relative_to(ROOT)}:block{index}(line {line})"
            code = compile(source, where, "exec")
            if expected is None:
                exec(code, namespace)
                continue
            output = io.StringIO()
            with contextlib.redirect_stdout(output):
                exec(code, namespace)
            assert output.getvalue() == expected, f"{where}: printed output differs from the page"
    finally:
        plugin.reset()  # a page that touches the plugin manager leaves nothing behind
    elapsed = time.perf_counter() - started
    # Keep the pages quick to run; generous bound so slow CI machines do not flake.
    assert elapsed < 30, f"{page.name}: examples took {elapsed:.1f} s"


def anchors(page: Path) -> set[str]:
    """GitHub-style anchors of a page's headings (outside code blocks)."""
    found: set[str] = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return found


def test_links_between_pages_resolve():
    link = re.compile(r"\]\(([^)#\s]+\.md)?(?:#([^)\s]*))?\)")
    for page in sorted(DOCS.glob("*.md")):
        for target, anchor in link.findall(page.read_text(encoding="utf-8")):
            path = (page.parent / target) if target else page
            assert path.resolve().exists(), f"{page.name}: broken link to {target}"
            if anchor:
                assert anchor in anchors(path), f"{page.name}: no heading for #{anchor} in {path.name}"


def test_every_page_has_examples():
    for page in sorted(DOCS.glob("*.md")):
        assert python_blocks(page), f"{page.name} has no runnable ```python example"


def test_block_extraction(tmp_path):
    sample = tmp_path / "sample.md"
    sample.write_text("x\n```python\na = 1\n```\n```text\nnot run\n```\n```python\nb = a + 1\n```\n",
                      encoding="utf-8")
    assert python_blocks(sample) == [(3, "a = 1\n"), (9, "b = a + 1\n")]
    sample.write_text("```python\nprint(1)\n```\n\nprints\n\n```text\n1\n```\n", encoding="utf-8")
    assert examples(sample) == [(2, "print(1)\n", "1\n")]
