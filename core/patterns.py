"""Regular expressions over parameter names, matched in linear time.

A config's ``{"regex": ...}`` selector and Keras's ``exclude_from_weight_decay`` patterns
are regular expressions written by whoever wrote the config. Python's :mod:`re`
backtracks, so a pattern such as ``(.*.*)*X`` takes exponential time on a name that does
not match (measured: over 30 s for three 34-character names). optbridge therefore never
runs a config's pattern with :mod:`re`'s matcher. :class:`NamePattern` parses the
pattern with :mod:`re`'s own parser (so the syntax, flags and error messages are
Python's), turns it into a Thompson NFA and simulates all its states at once: the cost
of a match is at most ``len(name) * states`` steps, whatever the pattern.

Rules:

* Results equal :func:`re.fullmatch` / :func:`re.search` for every supported pattern:
  every single-character test (literals, classes, ``.``, ``\\d``/``\\w``/``\\s``, ranges,
  with the pattern's flags ``(?i)``, ``(?s)``, ``(?a)``, ``(?x)``, scoped or global) and
  every anchor (``^ $ \\A \\Z \\b \\B``, ``(?m)``) is decided by :mod:`re` itself on that
  one position; only the repetition and alternation are simulated here. Greedy and lazy
  quantifiers accept the same names (they differ only in which match :mod:`re` reports).
* Refused (``ValueError`` with the reason): backreferences (``\\1``, ``(?P=name)``),
  conditionals ``(?(1)a|b)``, lookahead/lookbehind, atomic groups ``(?>...)`` and
  possessive quantifiers (``a*+``): they are not regular, or change which names match.
* Size bound: :data:`MAX_STATES` NFA states after expanding counted repeats (``a{3,5}``
  is five copies of ``a``); a larger pattern, or one nesting groups deeper than Python's
  recursion limit allows, is refused.
"""
from __future__ import annotations

import functools
import re

# re's parser, opcodes and compiler (Python >= 3.11); typeshed describes only their deprecated sre_* aliases
from re import _compiler as _sre_compiler  # type: ignore[attr-defined]
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

__all__ = ["NamePattern", "compile_name_pattern", "MAX_STATES"]

#: Largest NFA (states, after expanding counted repeats) a pattern may compile to.
MAX_STATES = 10_000

_CHAR, _SPLIT, _ASSERT, _MATCH = range(4)
_CHAR_OPS = {_sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY, _sre.IN}
_REFUSED = {
    _sre.GROUPREF: "a backreference",
    _sre.GROUPREF_EXISTS: "a conditional group (?(...)...)",
    _sre.ASSERT: "a lookahead/lookbehind assertion",
    _sre.ASSERT_NOT: "a negative lookahead/lookbehind assertion",
    _sre.ATOMIC_GROUP: "an atomic group (?>...)",
    _sre.POSSESSIVE_REPEAT: "a possessive quantifier",
}


class NamePattern:
    """A regular expression over names with linear-time :meth:`fullmatch` and :meth:`search`.

    Args:
        pattern: the regular expression (Python :mod:`re` syntax).

    Raises:
        re.error: the pattern does not compile (Python's message).
        ValueError: the pattern uses a refused construct, exceeds :data:`MAX_STATES` or
            nests too deeply (see the module docstring).
    """

    __slots__ = ("pattern", "_kind", "_arg", "_out1", "_out2", "_start", "_has_asserts", "_steps")

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._kind: list[int] = []
        self._arg: list[Any] = []
        self._out1: list[int] = []
        self._out2: list[int] = []
        self._has_asserts = False
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}
        try:
            re.compile(pattern)  # Python's own syntax errors, first
            parsed = _sre_parse.parse(pattern, 0)
            match = self._new(_MATCH, None, -1)
            self._start = self._sequence(list(parsed.data), parsed.state.flags, match)
        except RecursionError:
            raise ValueError(f"the pattern {pattern[:60]!r}... nests groups too deeply") from None

    # -- compilation --------------------------------------------------------------------
    def _new(self, kind: int, arg: Any, out1: int, out2: int = -1) -> int:
        if len(self._kind) >= MAX_STATES:
            raise ValueError(
                f"the pattern {self.pattern!r} is too large: more than {MAX_STATES} states once counted repeats "
                f"are expanded"
            )
        self._kind.append(kind)
        self._arg.append(arg)
        self._out1.append(out1)
        self._out2.append(out2)
        return len(self._kind) - 1

    @staticmethod
    def _atom(op: Any, av: Any, flags: int) -> re.Pattern:
        """``re``'s own matcher for one single-position item under ``flags``."""
        state = _sre_parse.State()
        state.flags = flags
        return _sre_compiler.compile(_sre_parse.SubPattern(state, [(op, av)]), 0)

    def _sequence(self, items: list, flags: int, nxt: int) -> int:
        for op, av in reversed(items):
            nxt = self._item(op, av, flags, nxt)
        return nxt

    def _item(self, op: Any, av: Any, flags: int, nxt: int) -> int:
        if op in _CHAR_OPS:
            return self._new(_CHAR, self._atom(op, av, flags), nxt)
        if op is _sre.AT:
            self._has_asserts = True
            return self._new(_ASSERT, self._atom(op, av, flags), nxt)
        if op is _sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            return self._sequence(list(sub.data), (flags | add_flags) & ~del_flags, nxt)
        if op is _sre.BRANCH:
            starts = [self._sequence(list(sub.data), flags, nxt) for sub in av[1]]
            start = starts[-1]
            for alternative in reversed(starts[:-1]):
                start = self._new(_SPLIT, None, alternative, start)
            return start
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            low, high, sub = av
            items = list(sub.data)
            if high == _sre.MAXREPEAT:
                loop = self._new(_SPLIT, None, -1, nxt)
                self._out1[loop] = self._sequence(items, flags, loop)
                start = loop
            else:
                start = nxt
                for _ in range(high - low):
                    start = self._new(_SPLIT, None, self._sequence(items, flags, start), nxt)
            for _ in range(low):
                start = self._sequence(items, flags, start)
            return start
        what = _REFUSED.get(op, f"the construct {op}")
        raise ValueError(
            f"the pattern {self.pattern!r} uses {what}, which optbridge does not match (name patterns are matched "
            f"in linear time, so backreferences, lookarounds, conditionals, atomic groups and possessive "
            f"quantifiers are refused)"
        )

    # -- simulation ---------------------------------------------------------------------
    def _closure(self, states: Any, name: str, pos: int) -> frozenset[int]:
        """The character-consuming and final states reachable from ``states`` without input."""
        kind, out1, out2, arg = self._kind, self._out1, self._out2, self._arg
        stack = list(states)
        seen: set[int] = set()
        found: set[int] = set()
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            k = kind[s]
            if k == _SPLIT:
                stack.append(out1[s])
                stack.append(out2[s])
            elif k == _ASSERT:
                if arg[s].match(name, pos) is not None:
                    stack.append(out1[s])
            else:
                found.add(s)
        return frozenset(found)

    def _advance(self, current: frozenset[int], name: str, pos: int) -> frozenset[int]:
        """The states after consuming ``name[pos]`` (cached per state set and character
        when the pattern has no anchors, whose outcome depends on the neighbours)."""
        key = (current, name[pos])
        if not self._has_asserts:
            cached = self._steps.get(key)
            if cached is not None:
                return cached
        moved = [self._out1[s] for s in current if self._kind[s] == _CHAR and self._arg[s].match(name, pos)]
        result = self._closure(moved, name, pos + 1)
        if not self._has_asserts and len(self._steps) < 4096:
            self._steps[key] = result
        return result

    def fullmatch(self, name: str) -> bool:
        """Whether the whole of ``name`` matches (as ``re.fullmatch(pattern, name)``)."""
        current = self._closure((self._start,), name, 0)
        for pos in range(len(name)):
            if not current:
                return False
            current = self._advance(current, name, pos)
        return any(self._kind[s] == _MATCH for s in current)

    def search(self, name: str) -> bool:
        """Whether the pattern matches somewhere in ``name`` (as ``re.search(pattern, name)``)."""
        current = self._closure((self._start,), name, 0)
        for pos in range(len(name) + 1):
            if any(self._kind[s] == _MATCH for s in current):
                return True
            if pos == len(name):
                return False
            current = self._advance(current, name, pos) | self._closure((self._start,), name, pos + 1)
        return False  # pragma: no cover - the loop returns at pos == len(name)

    def __repr__(self) -> str:
        return f"NamePattern({self.pattern!r})"


@functools.lru_cache(maxsize=256)
def compile_name_pattern(pattern: str) -> NamePattern:
    """A cached :class:`NamePattern` (same errors as its constructor)."""
    return NamePattern(pattern)
