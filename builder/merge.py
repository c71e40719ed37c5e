"""Three-way merge of a pack: the shipped base, the new shipped version ("theirs") and the local edits ("ours").

Per JSON document, per key, and per array item matched by identity (a field's name, a section's id, an
option's value, a plain string): a part changed on one side only takes that side; a part changed on both
sides to the same value is fine; a part changed on both sides differently is a conflict, settled by the
administrator's resolution ("ours" or "theirs") for that conflict id. BPMN files merge as whole files.
Conflict ids are "<file>#<JSON pointer>", stable between the preview and the apply of the same inputs.
Without a resolution the merged content holds the local value, so a preview always shows a whole pack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builder.diff import identity, is_label, keyed
from builder.wording import kind_words
from runtime.blueprints.errors import pointer as make_pointer

MISSING: Any = object()


@dataclass
class MergeResult:
    documents: dict[str, Any] = field(default_factory=dict)
    workflows: dict[str, str] = field(default_factory=dict)
    conflicts: list[dict] = field(default_factory=list)
    auto: list[dict] = field(default_factory=list)
    """Parts merged without asking: {"file", "pointer", "taken": "theirs"|"ours", "summary": {"zh", "en"}}."""


def merge_pack(
    base: tuple[dict[str, Any], dict[str, str]],
    ours: tuple[dict[str, Any], dict[str, str]],
    theirs: tuple[dict[str, Any], dict[str, str]],
    resolutions: dict[str, str] | None = None,
) -> MergeResult:
    result = MergeResult()
    merger = _Merger(result, resolutions or {})
    for rel in sorted(set(base[0]) | set(ours[0]) | set(theirs[0])):
        merged = merger.value(rel, "", *(side[0].get(rel, MISSING) for side in (base, ours, theirs)))
        if merged is not MISSING:
            result.documents[rel] = merged
    for rel in sorted(set(base[1]) | set(ours[1]) | set(theirs[1])):
        b, o, t = (side[1].get(rel, MISSING) for side in (base, ours, theirs))
        merged = merger.whole(rel, "", b, o, t)
        if merged is not MISSING:
            result.workflows[rel] = merged
    return result


def _auto(file: str, ptr: str, taken: str) -> dict:
    zh, en = kind_words(file)
    name = file.rsplit("/", 1)[-1].removesuffix(".json")
    where_zh, where_en = f"{zh} {name} {ptr or '/'}", f"{en} {name} {ptr or '/'}"
    summary = (
        {"zh": f"{where_zh}：采用新版本的修改", "en": f"{where_en}: the shipped change is taken"}
        if taken == "theirs"
        else {"zh": f"{where_zh}：保留本地修改", "en": f"{where_en}: the local edit is kept"}
    )
    return {"file": file, "pointer": ptr or "/", "taken": taken, "summary": summary}


def _shown(value: Any) -> Any:
    return None if value is MISSING else value


class _Merger:
    def __init__(self, result: MergeResult, resolutions: dict[str, str]):
        self.result = result
        self.resolutions = resolutions

    def whole(self, file: str, ptr: str, b: Any, o: Any, t: Any) -> Any:
        """One value taken as a whole: changed on one side wins, both changed differently = conflict."""
        if o == t:
            return o
        if b == o:
            self.result.auto.append(_auto(file, ptr, "theirs"))
            return t
        if b == t:
            self.result.auto.append(_auto(file, ptr, "ours"))
            return o
        return self.conflict(file, ptr, b, o, t)

    def conflict(self, file: str, ptr: str, b: Any, o: Any, t: Any) -> Any:
        cid = f"{file}#{ptr or '/'}"
        self.result.conflicts.append(
            {"id": cid, "file": file, "pointer": ptr or "/", "base": _shown(b), "ours": _shown(o), "theirs": _shown(t)}
        )
        return t if self.resolutions.get(cid) == "theirs" else o

    def value(self, file: str, ptr: str, b: Any, o: Any, t: Any) -> Any:
        if o == t or b in (o, t):
            return self.whole(file, ptr, b, o, t)
        if is_label(o) or is_label(t):  # a {"zh","en"} text is one value to the administrator
            return self.conflict(file, ptr, b, o, t)
        if all(isinstance(v, dict) for v in (o, t)) and (b is MISSING or isinstance(b, dict)):
            return self._dict(file, ptr, {} if b is MISSING else b, o, t)
        if all(isinstance(v, list) for v in (b, o, t)):
            keys = [keyed(v) for v in (b, o, t)]
            if all(k is not None for k in keys):
                return self._list(file, ptr, b, o, t)
            if len(b) == len(o) == len(t) and all(isinstance(x, dict) for x in b + o + t):
                return [self.value(file, f"{ptr}/{i}", *items) for i, items in enumerate(zip(b, o, t, strict=True))]
        return self.conflict(file, ptr, b, o, t)

    def _dict(self, file: str, ptr: str, b: dict, o: dict, t: dict) -> dict:
        out: dict[str, Any] = {}
        for key in list(o) + [k for k in t if k not in o] + [k for k in b if k not in o and k not in t]:
            merged = self.value(
                file, f"{ptr}{make_pointer(key)}", b.get(key, MISSING), o.get(key, MISSING), t.get(key, MISSING)
            )
            if merged is not MISSING:
                out[key] = merged
        return out

    def _list(self, file: str, ptr: str, b: list, o: list, t: list) -> list:
        """Items by identity. Order: ours when the local edits reordered the shared items, else theirs; an
        item only one side has goes after its predecessor on that side. (A reorder on both sides keeps ours.)"""
        by_b = {identity(i): i for i in b}
        by_o = {identity(i): i for i in o}
        by_t = {identity(i): i for i in t}
        keys_o, keys_t = list(by_o), list(by_t)
        common_b = [k for k in by_b if k in by_o and k in by_t]
        ours_reordered = [k for k in keys_o if k in common_b] != common_b
        primary, secondary = (keys_o, keys_t) if ours_reordered else (keys_t, keys_o)
        order = list(primary)
        for i, k in enumerate(secondary):
            if k not in order:
                anchor = next((p for p in reversed(secondary[:i]) if p in order), None)
                order.insert(order.index(anchor) + 1 if anchor is not None else 0, k)
        out = []
        for k in order:
            index = keys_o.index(k) if k in by_o else keys_t.index(k)
            merged = self.value(
                file, f"{ptr}/{index}", by_b.get(k, MISSING), by_o.get(k, MISSING), by_t.get(k, MISSING)
            )
            if merged is not MISSING:
                out.append(merged)
        return out
