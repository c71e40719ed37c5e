"""Linear-time regular expressions for ``matches()``.

Why not ``re``: Python's ``re`` is a backtracking engine with no timeout. Limiting the pattern
to 200 characters and the text to 10000 does *not* bound its work: ``(a+)+$`` against
``'a' * 30 + '!'`` already takes minutes, and even ``a*a*a*b`` is cubic in the text length.
A blueprint author could freeze a worker with one validation rule.

This module parses the common regex subset itself and runs it as a Thompson NFA (the
technique behind RE2 and Go's ``regexp``): all alternatives advance together one character
at a time, so the work is at most ``len(text) * len(program)`` steps whatever the pattern.
That product is checked against :data:`MAX_WORK` before matching starts.

Supported: literals, ``.``, ``[...]`` classes with ranges and negation, ``\\d \\w \\s`` (and
upper-case negations), ``^ $ \\A \\Z \\b \\B``, groups ``(...)``, ``(?:...)``,
``(?P<name>...)``, alternation ``|``, quantifiers ``* + ? {n} {n,} {,m} {n,m}`` (lazy forms are
accepted; they cannot change a yes/no answer), leading flags ``(?i)``, ``(?s)``, ``(?m)``.
Refused, with a clear message: back-references, look-around, atomic groups, possessive
quantifiers, conditionals - the features that need backtracking.

Semantics are those of ``re.search``: the pattern may match anywhere; anchor with ``^...$``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from .errors import ExpressionError
from .limits import MAX_REGEX_INPUT, MAX_REGEX_LENGTH

__all__ = ["MAX_PROGRAM", "MAX_WORK", "Regex", "compile_regex"]

MAX_PROGRAM = 2000
"""Instructions in a compiled pattern (``{n,m}`` copies its operand, so this bounds those)."""
MAX_WORK = 1_000_000
"""Upper bound of ``len(text) * len(program)``, the worst-case number of NFA steps (about
0.2 s of pure Python at worst; realistic validation patterns on short text take microseconds)."""
MAX_REPEAT = 1000
"""Largest number allowed inside ``{n,m}``."""

Predicate = Callable[[str], bool]

# Node kinds of the parsed pattern (tuples keep the parser tiny).
_CHAR, _ASSERT, _SEQ, _ALT, _REPEAT = "char", "assert", "seq", "alt", "repeat"
# Instruction opcodes.
_OP_CHAR, _OP_SPLIT, _OP_JMP, _OP_ASSERT, _OP_MATCH = range(5)
# Zero-width assertions.
_BOL, _EOL, _BOL_MULTI, _EOL_MULTI, _START, _END, _WORD_EDGE, _NOT_WORD_EDGE = range(8)


def _is_word(ch: str | None) -> bool:
    return ch is not None and (ch.isalnum() or ch == "_")


_CLASS_ESCAPES: dict[str, Predicate] = {
    "d": str.isdecimal,
    "D": lambda ch: not ch.isdecimal(),
    "w": _is_word,
    "W": lambda ch: not _is_word(ch),
    "s": str.isspace,
    "S": lambda ch: not ch.isspace(),
}
_CONTROL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "0": "\0"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _error(message: str) -> ExpressionError:
    return ExpressionError(f"matches(): invalid regular expression: {message}")


class _Parser:
    """Recursive-descent parser producing nested tuples. Recursion depth is bounded by the
    pattern length (<= 200), each level needing at least one ``(``."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0
        self.ignore_case = self.dot_all = self.multi_line = False

    # -- helpers
    def _peek(self, offset: int = 0) -> str | None:
        index = self.pos + offset
        return self.pattern[index] if index < len(self.pattern) else None

    def _take(self) -> str:
        ch = self.pattern[self.pos]
        self.pos += 1
        return ch

    def _startswith(self, text: str) -> bool:
        return self.pattern.startswith(text, self.pos)

    # -- grammar
    def parse(self) -> tuple:
        self._leading_flags()
        node = self._alternation()
        if self.pos < len(self.pattern):  # only a stray ')' can stop the top level early
            raise _error(f"unbalanced parenthesis at position {self.pos}")
        return node

    def _leading_flags(self) -> None:
        while self._startswith("(?") and (end := self.pattern.find(")", self.pos)) != -1:
            letters = self.pattern[self.pos + 2 : end]
            if not letters or not set(letters) <= set("ism"):
                return
            self.ignore_case |= "i" in letters
            self.dot_all |= "s" in letters
            self.multi_line |= "m" in letters
            self.pos = end + 1

    def _alternation(self) -> tuple:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self._sequence())
        return branches[0] if len(branches) == 1 else (_ALT, branches)

    def _sequence(self) -> tuple:
        items: list[tuple] = []
        while (ch := self._peek()) is not None and ch not in "|)":
            items.append(self._quantified(self._atom()))
        return items[0] if len(items) == 1 else (_SEQ, items)

    def _atom(self) -> tuple:
        start = self.pos
        ch = self._take()
        if ch == "(":
            return self._group()
        if ch == "[":
            return (_CHAR, self._char_class())
        if ch == ".":
            return (_CHAR, (lambda c: True) if self.dot_all else "\n".__ne__)
        if ch == "^":
            return (_ASSERT, _BOL_MULTI if self.multi_line else _BOL)
        if ch == "$":
            return (_ASSERT, _EOL_MULTI if self.multi_line else _EOL)
        if ch == "\\":
            return self._escape()
        if ch in "*+?" or (ch == "{" and self._quantifier_bounds(start) is not None):
            raise _error(f"nothing to repeat at position {start}")
        return (_CHAR, self._literal(ch))

    def _group(self) -> tuple:
        if self._peek() == "?":
            if self._startswith("?:"):
                self.pos += 2
            elif self._startswith("?P<"):
                end = self.pattern.find(">", self.pos)
                if end == -1:
                    raise _error("unterminated group name")
                self.pos = end + 1
            elif self._startswith("?=") or self._startswith("?!") or self._startswith("?<"):
                raise _error("look-ahead and look-behind are not supported")
            elif self._startswith("?P="):
                raise _error("back-references are not supported")
            elif self._startswith("?>"):
                raise _error("atomic groups are not supported")
            else:
                raise _error("this kind of group is not supported (flags are only allowed at the start)")
        node = self._alternation()
        if self._peek() != ")":
            raise _error("missing ), unterminated subpattern")
        self.pos += 1
        return node

    def _quantifier_bounds(self, at: int) -> tuple[int, int | None, int] | None:
        """Parse ``{n}``, ``{n,}``, ``{,m}``, ``{n,m}`` at ``at``: (min, max, end) or None if
        the brace is not a quantifier (Python then treats ``{`` as a literal)."""
        end = self.pattern.find("}", at)
        if end == -1:
            return None
        body = self.pattern[at + 1 : end]
        low_text, comma, high_text = body.partition(",")
        if not (low_text.isdigit() or low_text == "") or not (high_text.isdigit() or high_text == ""):
            return None
        if not low_text and not comma:
            return None
        if (low_text and len(low_text) > 6) or (high_text and len(high_text) > 6):
            raise _error(f"repetition count too large (max {MAX_REPEAT})")
        low = int(low_text) if low_text else 0
        high: int | None = int(high_text) if high_text else (None if comma else low)
        return low, high, end + 1

    def _quantified(self, atom: tuple) -> tuple:
        ch = self._peek()
        if ch is None:
            return atom
        if ch == "*":
            low, high, end = 0, None, self.pos + 1
        elif ch == "+":
            low, high, end = 1, None, self.pos + 1
        elif ch == "?":
            low, high, end = 0, 1, self.pos + 1
        elif ch == "{" and (bounds := self._quantifier_bounds(self.pos)) is not None:
            low, high, end = bounds
        else:
            return atom
        if atom[0] == _ASSERT:
            raise _error(f"nothing to repeat at position {self.pos}")
        if max(low, high or 0) > MAX_REPEAT:
            raise _error(f"repetition count too large (max {MAX_REPEAT})")
        if high is not None and high < low:
            raise _error("min repeat greater than max repeat")
        self.pos = end
        if self._peek() == "?":  # lazy: same yes/no answer
            self.pos += 1
        elif self._peek() == "+":
            raise _error("possessive quantifiers are not supported")
        if self._peek() in ("*", "+", "?") or (self._peek() == "{" and self._quantifier_bounds(self.pos) is not None):
            raise _error(f"multiple repeat at position {self.pos}")
        return (_REPEAT, atom, low, high)

    def _escape(self) -> tuple:
        if self._peek() is None:
            raise _error("bad escape (end of pattern)")
        ch = self._take()
        if ch in _CLASS_ESCAPES:
            return (_CHAR, self._fold(_CLASS_ESCAPES[ch]))
        assertion = {"b": _WORD_EDGE, "B": _NOT_WORD_EDGE, "A": _START, "Z": _END}.get(ch)
        if assertion is not None:
            return (_ASSERT, assertion)
        return (_CHAR, self._literal(self._escaped_char(ch)))

    def _escaped_char(self, ch: str) -> str:
        """The character denoted by ``\\ch`` (``ch`` already consumed), for non-class escapes."""
        if ch in _CONTROL_ESCAPES and not (ch == "0" and (self._peek() or "").isdigit()):
            return _CONTROL_ESCAPES[ch]
        if ch in _HEX_ESCAPES:
            digits = self.pattern[self.pos : self.pos + _HEX_ESCAPES[ch]]
            if len(digits) != _HEX_ESCAPES[ch] or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise _error(f"incomplete escape \\{ch}{digits}")
            self.pos += len(digits)
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise _error(f"bad escape \\{ch}{digits}")
            return chr(code)
        if ch.isdigit():
            raise _error("back-references are not supported")
        if ch.isascii() and ch.isalpha():
            raise _error(f"bad escape \\{ch}")
        return ch

    def _char_class(self) -> Predicate:
        negate = self._peek() == "^"
        if negate:
            self.pos += 1
        chars: set[str] = set()
        ranges: list[tuple[str, str]] = []
        categories: list[Predicate] = []
        first = True
        while True:
            ch = self._peek()
            if ch is None:
                raise _error("unterminated character set")
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            self.pos += 1
            if ch == "\\":
                if self._peek() is None:
                    raise _error("unterminated character set")
                escaped = self._take()
                if escaped in _CLASS_ESCAPES:
                    categories.append(_CLASS_ESCAPES[escaped])
                    continue
                ch = "\b" if escaped == "b" else self._escaped_char(escaped)
            if self._peek() == "-" and self._peek(1) not in (None, "]"):
                self.pos += 1
                high = self._take()
                if high == "\\":
                    if self._peek() is None:
                        raise _error("unterminated character set")
                    escaped = self._take()
                    if escaped in _CLASS_ESCAPES:
                        raise _error(f"bad character range {ch}-\\{escaped}")
                    high = "\b" if escaped == "b" else self._escaped_char(escaped)
                if high < ch:
                    raise _error(f"bad character range {ch}-{high}")
                ranges.append((ch, high))
            else:
                chars.add(ch)
        frozen = frozenset(chars)
        range_tuple = tuple(ranges)
        category_tuple = tuple(categories)

        def member(c: str) -> bool:
            if c in frozen:
                return True
            for low, high in range_tuple:
                if low <= c <= high:
                    return True
            return any(category(c) for category in category_tuple)

        folded = self._fold(member)
        if negate:
            return lambda c: not folded(c)
        return folded

    def _fold(self, predicate: Predicate) -> Predicate:
        if not self.ignore_case:
            return predicate
        return lambda c: predicate(c) or predicate(c.lower()) or predicate(c.upper())

    def _literal(self, ch: str) -> Predicate:
        if self.ignore_case:
            return frozenset({ch, ch.lower(), ch.upper(), ch.casefold()}).__contains__
        return ch.__eq__


@dataclass(frozen=True, slots=True)
class Regex:
    """A compiled pattern: parallel instruction arrays for the NFA simulation."""

    pattern: str
    ops: tuple[int, ...]
    arg1: tuple[int, ...]
    arg2: tuple[int, ...]
    predicates: tuple[Predicate | None, ...]
    anchored: bool

    def search(self, text: str) -> bool:
        """True if the pattern matches anywhere in ``text`` (``re.search`` semantics)."""
        if len(text) > MAX_REGEX_INPUT:
            raise ExpressionError(f"matches(): text too long (max {MAX_REGEX_INPUT} characters)")
        if len(text) * len(self.ops) > MAX_WORK:
            raise ExpressionError(
                f"matches(): pattern too complex for a text of {len(text)} characters "
                f"(pattern size x text length must stay under {MAX_WORK})"
            )
        return _run(self, text)


def _run(regex: Regex, text: str) -> bool:
    ops, arg1, arg2, predicates = regex.ops, regex.arg1, regex.arg2, regex.predicates
    length = len(text)
    seen = [-1] * len(ops)  # seen[pc] == pos: already in this step's state set
    pending: list[int] = []
    for pos in range(length + 1):
        stack = pending
        if pos == 0 or not regex.anchored:
            stack.append(0)  # a match may start here
        consuming: list[int] = []
        while stack:
            pc = stack.pop()
            if seen[pc] == pos:
                continue
            seen[pc] = pos
            op = ops[pc]
            if op == _OP_CHAR:
                consuming.append(pc)
            elif op == _OP_SPLIT:
                stack.append(arg2[pc])
                stack.append(arg1[pc])
            elif op == _OP_JMP:
                stack.append(arg1[pc])
            elif op == _OP_ASSERT:
                if _assertion_holds(arg1[pc], text, pos, length):
                    stack.append(pc + 1)
            else:  # _OP_MATCH
                return True
        if pos == length:
            break
        ch = text[pos]
        pending = [pc + 1 for pc in consuming if predicates[pc](ch)]  # type: ignore[misc]
        if not pending and regex.anchored:
            return False
    return False


def _assertion_holds(kind: int, text: str, pos: int, length: int) -> bool:
    if kind in (_BOL, _START):
        return pos == 0
    if kind == _EOL:
        return pos == length or (pos == length - 1 and text[pos] == "\n")
    if kind == _END:
        return pos == length
    if kind == _BOL_MULTI:
        return pos == 0 or text[pos - 1] == "\n"
    if kind == _EOL_MULTI:
        return pos == length or text[pos] == "\n"
    before = text[pos - 1] if pos > 0 else None
    after = text[pos] if pos < length else None
    edge = _is_word(before) != _is_word(after)
    if kind == _WORD_EDGE:
        return edge
    return not edge and length > 0  # like ``re``, \B never matches in an empty text


class _Emitter:
    """Compiles the parsed tree into instructions (Thompson construction)."""

    def __init__(self) -> None:
        self.ops: list[int] = []
        self.arg1: list[int] = []
        self.arg2: list[int] = []
        self.predicates: list[Predicate | None] = []

    def _add(self, op: int, a: int = 0, b: int = 0, predicate: Predicate | None = None) -> int:
        if len(self.ops) >= MAX_PROGRAM:
            raise _error("pattern too complex (too many repetitions)")
        self.ops.append(op)
        self.arg1.append(a)
        self.arg2.append(b)
        self.predicates.append(predicate)
        return len(self.ops) - 1

    def emit(self, node: tuple) -> None:
        kind = node[0]
        if kind == _CHAR:
            self._add(_OP_CHAR, predicate=node[1])
        elif kind == _ASSERT:
            self._add(_OP_ASSERT, node[1])
        elif kind == _SEQ:
            for item in node[1]:
                self.emit(item)
        elif kind == _ALT:
            jumps = []
            branches = node[1]
            for branch in branches[:-1]:
                split = self._add(_OP_SPLIT)
                self.arg1[split] = split + 1
                self.emit(branch)
                jumps.append(self._add(_OP_JMP))
                self.arg2[split] = len(self.ops)
            self.emit(branches[-1])
            for jump in jumps:
                self.arg1[jump] = len(self.ops)
        else:
            self._repeat(node[1], node[2], node[3])

    def _repeat(self, body: tuple, low: int, high: int | None) -> None:
        for _ in range(low):
            self.emit(body)
        if high is None:  # loop: L: split(body, out); body; jmp L
            loop = self._add(_OP_SPLIT)
            self.arg1[loop] = loop + 1
            self.emit(body)
            self._add(_OP_JMP, loop)
            self.arg2[loop] = len(self.ops)
            return
        splits = []
        for _ in range(high - low):  # optional copies: split(body, out); body
            split = self._add(_OP_SPLIT)
            self.arg1[split] = split + 1
            splits.append(split)
            self.emit(body)
        for split in splits:
            self.arg2[split] = len(self.ops)


def _anchored(node: tuple) -> bool:
    """True if every match must start at position 0 (pattern begins with ``^`` or ``\\A``)."""
    kind = node[0]
    if kind == _ASSERT:
        return node[1] in (_BOL, _START)
    if kind == _SEQ:
        return bool(node[1]) and _anchored(node[1][0])
    if kind == _ALT:
        return all(_anchored(branch) for branch in node[1])
    return False


@lru_cache(maxsize=256)
def compile_regex(pattern: str) -> Regex:
    """Parse and compile ``pattern`` once (cached); raises ExpressionError if unsupported."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ExpressionError(f"matches(): pattern too long (max {MAX_REGEX_LENGTH} characters)")
    tree = _Parser(pattern).parse() if pattern else (_SEQ, [])
    emitter = _Emitter()
    emitter.emit(tree)
    emitter._add(_OP_MATCH)
    return Regex(
        pattern=pattern,
        ops=tuple(emitter.ops),
        arg1=tuple(emitter.arg1),
        arg2=tuple(emitter.arg2),
        predicates=tuple(emitter.predicates),
        anchored=_anchored(tree),
    )
