"""Label and field selectors, parsed and matched as the real API server does for list and watch.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k`.
Field selectors: `f=v`, `f==v`, `f!=v` over the fields the real server indexes for the kind
(FIELD_LABELS); any other field is an error, as it is on a real server. A missing field reads "".
Parse errors raise ValueError; the store turns them into 400 BadRequest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

COMMON_FIELDS = ("metadata.name", "metadata.namespace")
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
    ),
    "Event": (
        *(
            f"involvedObject.{field}"
            for field in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion")
        ),
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "Namespace": ("status.phase",),
    "Secret": ("type",),
}

_SET_TERM = re.compile(r"(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)")
_EQUALITY_TERM = re.compile(r"(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)")
_EXISTS_TERM = re.compile(r"(?P<negated>!?)\s*(?P<key>[^\s!=(),]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, lookup: Callable[[str], str | None]) -> bool:
        value = lookup(self.key)
        present = value is not None
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        return present if self.op == "exists" else not present


@dataclass(frozen=True)
class Selector:
    labels: tuple[Requirement, ...] = ()
    fields: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, label_selector: str = "", field_selector: str = "", kind: str = "") -> Selector:
        return cls(_parse_labels(label_selector), _parse_fields(field_selector, kind))

    def matches(self, obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels.get) for r in self.labels) and all(
            r.matches(lambda path: field_value(obj, path)) for r in self.fields
        )


def field_value(obj: dict, path: str) -> str:
    """The value of a dotted field path as a field selector sees it: missing reads ""."""
    value: object = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _split_terms(text: str) -> list[str]:
    """Split at commas outside parentheses (`a in (x,y),b` is two terms)."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term.strip() for term in terms if term.strip()]


def _parse_labels(text: str) -> tuple[Requirement, ...]:
    return tuple(_parse_label_term(term) for term in _split_terms(text or ""))


def _parse_label_term(term: str) -> Requirement:
    if match := _SET_TERM.fullmatch(term):
        values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
        return Requirement(match["key"], match["op"], values)
    if match := _EQUALITY_TERM.fullmatch(term):
        op = "=" if match["op"] == "==" else match["op"]
        return Requirement(match["key"], op, frozenset({match["value"]}))
    if match := _EXISTS_TERM.fullmatch(term):
        return Requirement(match["key"], "!" if match["negated"] else "exists")
    raise ValueError(f"unable to parse requirement: {term!r}")


def _parse_fields(text: str, kind: str) -> tuple[Requirement, ...]:
    supported = COMMON_FIELDS + FIELD_LABELS.get(kind, ())
    requirements = []
    for term in _split_terms(text or ""):
        match = _EQUALITY_TERM.fullmatch(term)
        if not match:
            raise ValueError(f"invalid selector: {term!r}; can't understand {term!r}")
        if match["key"] not in supported:
            raise ValueError(f'field label not supported: "{match["key"]}"')
        op = "=" if match["op"] == "==" else match["op"]
        requirements.append(Requirement(match["key"], op, frozenset({match["value"]})))
    return tuple(requirements)
