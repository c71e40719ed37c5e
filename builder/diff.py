"""Readable differences between two contents of a pack (versions or the draft).

Each change names its file and a JSON pointer into the document it applies to (the 'after' document,
or the 'before' one for removals), says added/removed/changed/moved, and carries a short zh/en
sentence. Array items with an identity (a field's name, a section's id, an option's value, a plain
string such as a field listed in a form section) are matched by that identity, not by position, so
reordering reads as "moved" and inserting an item does not make every later item "changed". An item
that leaves one list and appears in a sibling list (a field dragged to another section) is one "moved".
BPMN files are compared whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from builder.wording import kind_words, label_pair, noun, prop_words, value_text
from runtime.blueprints.errors import pointer as make_pointer

Content = tuple[dict[str, Any], dict[str, str]]
IDENTITY_KEYS = ("name", "id", "value", "entity", "field", "view", "process", "key")


@dataclass(frozen=True)
class Step:
    """One keyed array item on the path to a change: 'field blood_type (Blood type)'."""

    noun: tuple[str, str]
    key: str
    label: tuple[str, str]

    def words(self, lang: str) -> str:
        i = 0 if lang == "zh" else 1
        label = self.label[i]
        if self.key.startswith("#"):  # an item without identity: named by its label, else its position
            if label:
                return f"{self.noun[i]}“{label}”" if lang == "zh" else f"{self.noun[i]} '{label}'"
            return f"第 {self.key[1:]} 个{self.noun[i]}" if lang == "zh" else f"{self.noun[i]} {self.key}"
        if not label or label == self.key:
            return f"{self.noun[i]} {self.key}"
        return f"{self.noun[i]} {self.key}（{label}）" if lang == "zh" else f"{self.noun[i]} {self.key} ({label})"


@dataclass
class _Doc:
    file: str
    head: tuple[str, str]  # "表单 patient_form", "Form patient_form"
    field_labels: dict[str, Any]  # field name -> label of the entity the document is about


def diff_contents(before: Content, after: Content) -> list[dict]:
    """Every change from `before` to `after`, file by file in path order."""
    docs_a, wf_a = before
    docs_b, wf_b = after
    labels = _field_labels(docs_a) | _field_labels(docs_b)
    out: list[dict] = []
    for rel in sorted(set(docs_a) | set(docs_b)):
        a, b = docs_a.get(rel), docs_b.get(rel)
        doc = _Doc(rel, _head(rel, b if b is not None else a), _labels_for(b if b is not None else a, rel, labels))
        if a is None:
            out.append(_file_change(rel, "added", None, b, doc.head))
        elif b is None:
            out.append(_file_change(rel, "removed", a, None, doc.head))
        elif a != b:
            found: list[dict] = []
            _walk(doc, a, b, "", "", [], None, found)
            out.extend(_pair_moves(found))
    for rel in sorted(set(wf_a) | set(wf_b)):
        a, b = wf_a.get(rel), wf_b.get(rel)
        if a == b:
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        out.append(_file_change(rel, change, a, b, _head(rel, None)))
    for change in out:
        change.pop("_item", None)
    return out


def _head(rel: str, doc: Any) -> tuple[str, str]:
    zh, en = kind_words(rel)
    ident = doc.get("id") if isinstance(doc, dict) else None
    name = str(ident) if ident else rel.rsplit("/", 1)[-1]
    return f"{zh} {name}", f"{en} {name}"


def _field_labels(docs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rel, doc in docs.items():
        if rel.startswith("entities/") and isinstance(doc, dict) and isinstance(doc.get("fields"), list):
            out[str(doc.get("id"))] = {
                f.get("name"): f.get("label") for f in doc["fields"] if isinstance(f, dict) and f.get("name")
            }
    return out


def _labels_for(doc: Any, rel: str, labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(doc, dict):
        return {}
    if rel.startswith("entities/"):
        return labels.get(str(doc.get("id")), {})
    return labels.get(str(doc.get("entity")), {})


def _file_change(rel: str, change: str, before: Any, after: Any, head: tuple[str, str]) -> dict:
    zh_verb = {"added": "新增", "removed": "删除", "changed": "已修改"}[change]
    zh = f"{zh_verb}{head[0]}" if change != "changed" else f"{head[0]}{zh_verb}"
    return {
        "file": rel,
        "pointer": "",
        "change": change,
        "before": before,
        "after": after,
        "summary": {"zh": zh, "en": f"{head[1]} {change}"},
    }


def identity(item: Any) -> str | None:
    if isinstance(item, str | int) and not isinstance(item, bool):
        return str(item)
    if isinstance(item, dict):
        for key in IDENTITY_KEYS:
            value = item.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return f"{value}"
    return None


def keyed(items: list[Any]) -> list[str] | None:
    keys = [identity(i) for i in items]
    if any(k is None for k in keys) or len(set(keys)) != len(keys):
        return None
    return keys  # type: ignore[return-value]


def is_label(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= {"zh", "en"}


def _walk(
    doc: _Doc, a: Any, b: Any, ptr_a: str, ptr_b: str, trail: list[Step], prop: str | None, out: list[dict]
) -> None:
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict) and not is_label(a) and not is_label(b):
        for key in list(a) + [k for k in b if k not in a]:
            pa, pb = f"{ptr_a}{make_pointer(key)}", f"{ptr_b}{make_pointer(key)}"
            if key not in b:
                out.append(_change(doc, "removed", pa, a[key], None, trail, key))
            elif key not in a:
                out.append(_change(doc, "added", pb, None, b[key], trail, key))
            else:
                _walk(doc, a[key], b[key], pa, pb, trail, key, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        keys_a, keys_b = keyed(a), keyed(b)
        if keys_a is not None and keys_b is not None:
            _walk_keyed(doc, a, b, keys_a, keys_b, ptr_a, ptr_b, trail, prop or "", out)
            return
        if len(a) == len(b) and all(isinstance(x, dict) for x in a + b):  # same items without ids: by position
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                step = Step(noun(prop or ""), f"#{i + 1}", label_pair(y.get("label")))
                _walk(doc, x, y, f"{ptr_a}/{i}", f"{ptr_b}/{i}", [*trail, step], None, out)
            return
    out.append(_change(doc, "changed", ptr_b, a, b, trail, prop))


def _walk_keyed(
    doc: _Doc,
    a: list[Any],
    b: list[Any],
    keys_a: list[str],
    keys_b: list[str],
    ptr_a: str,
    ptr_b: str,
    trail: list[Step],
    prop: str,
    out: list[dict],
) -> None:
    index_a = {k: i for i, k in enumerate(keys_a)}
    index_b = {k: i for i, k in enumerate(keys_b)}
    common = [k for k in keys_b if k in index_a]
    stay = _longest_increasing([index_a[k] for k in common])
    kept = {common[i] for i in stay}
    for k in keys_a:
        if k not in index_b:
            step = _step(doc, prop, k, a[index_a[k]])
            out.append(_item_change(doc, "removed", f"{ptr_a}/{index_a[k]}", a[index_a[k]], None, trail, step))
    for k in keys_b:
        item_b = b[index_b[k]]
        step = _step(doc, prop, k, item_b)
        pb = f"{ptr_b}/{index_b[k]}"
        if k not in index_a:
            out.append(_item_change(doc, "added", pb, None, item_b, trail, step))
            continue
        item_a = a[index_a[k]]
        if k not in kept:
            moved = _item_change(doc, "moved", pb, item_a, item_b, trail, step)
            moved["from"] = f"{ptr_a}/{index_a[k]}"
            out.append(moved)
        if isinstance(item_a, dict) and isinstance(item_b, dict):
            _walk(doc, item_a, item_b, f"{ptr_a}/{index_a[k]}", pb, [*trail, step], None, out)


def _longest_increasing(seq: list[int]) -> list[int]:
    """Indexes (into seq) of one longest strictly increasing subsequence: the items that did not move."""
    if not seq:
        return []
    best_len = [1] * len(seq)
    prev = [-1] * len(seq)
    for i in range(len(seq)):
        for j in range(i):
            if seq[j] < seq[i] and best_len[j] + 1 > best_len[i]:
                best_len[i], prev[i] = best_len[j] + 1, j
    i = max(range(len(seq)), key=best_len.__getitem__)
    out = []
    while i != -1:
        out.append(i)
        i = prev[i]
    return out[::-1]


def _step(doc: _Doc, prop: str, key: str, item: Any) -> Step:
    if isinstance(item, dict):
        label = label_pair(item.get("label"))
    else:
        label = label_pair(doc.field_labels.get(key)) if prop in _FIELD_LISTS else ("", "")
    return Step(noun("fields" if prop in _FIELD_LISTS else prop), key, label)


_FIELD_LISTS = {"fields", "columns", "quick_filters", "search_fields", "group_by"}


def _where(doc: _Doc, trail: list[Step], lang: str) -> str:
    i = 0 if lang == "zh" else 1
    parts = [doc.head[i], *(s.words(lang) for s in trail)]
    return "：".join(parts) if lang == "zh" else ": ".join(parts)


def _item_change(doc: _Doc, change: str, ptr: str, before: Any, after: Any, trail: list[Step], step: Step) -> dict:
    where_zh, where_en = _where(doc, trail, "zh"), _where(doc, trail, "en")
    what = step.words("zh")
    zh = {"added": f"新增{what}", "removed": f"删除{what}", "moved": f"{what}调整了位置"}[change]
    return {
        "file": doc.file,
        "pointer": ptr,
        "change": change,
        "before": before,
        "after": after,
        "summary": {"zh": f"{where_zh}：{zh}", "en": f"{where_en}: {step.words('en')} {change}"},
        "_item": (step.noun, step.key, change),
    }


def _change(doc: _Doc, change: str, ptr: str, before: Any, after: Any, trail: list[Step], prop: str | None) -> dict:
    where_zh, where_en = _where(doc, trail, "zh"), _where(doc, trail, "en")
    pzh, pen = prop_words(prop or "")
    shown_b, shown_a = before, after
    if is_label(before) and is_label(after) and label_pair(before)[1] == label_pair(after)[1]:
        shown_b, shown_a = label_pair(before)[0], label_pair(after)[0]  # only the Chinese changed: show it
    if change == "added":
        zh, en = f"{pzh} 设为 {value_text(shown_a, 'zh')}", f"{pen} set to {value_text(shown_a, 'en')}"
    elif change == "removed":
        zh, en = f"移除{pzh}（原为 {value_text(shown_b, 'zh')}）", f"{pen} removed (was {value_text(shown_b, 'en')})"
    else:
        zh = f"{pzh} 由 {value_text(shown_b, 'zh')} 改为 {value_text(shown_a, 'zh')}"
        en = f"{pen} changed from {value_text(shown_b, 'en')} to {value_text(shown_a, 'en')}"
    if not prop:
        zh, en = ("内容已修改", "content changed")
    return {
        "file": doc.file,
        "pointer": ptr,
        "change": change,
        "before": before,
        "after": after,
        "summary": {"zh": f"{where_zh}：{zh}", "en": f"{where_en}: {en}"},
    }


def _pair_moves(changes: list[dict]) -> list[dict]:
    """An item removed from one list and added to another (same noun and identity) is one move."""
    removed = {c["_item"][:2]: c for c in changes if c.get("_item") and c["_item"][2] == "removed"}
    out = []
    used: set[int] = set()
    for c in changes:
        item = c.get("_item")
        if item and item[2] == "added" and item[:2] in removed:
            gone = removed.pop(item[:2])
            used.add(id(gone))
            where_zh = c["summary"]["zh"].replace("：新增", "：移入", 1)
            where_en = c["summary"]["en"].removesuffix(" added") + " moved here"
            out.append(
                {
                    **c,
                    "change": "moved",
                    "before": gone["before"],
                    "from": gone["pointer"],
                    "summary": {"zh": where_zh, "en": where_en},
                }
            )
        else:
            out.append(c)
    return [c for c in out if id(c) not in used]
