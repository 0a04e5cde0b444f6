"""Small input rules shared by services: ids, slugs, labels, and request bodies read in
words a person understands (which field, what was wrong)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from backend.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

SLUG_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_SEPARATORS = re.compile(r"[\s\-_./]+")
_DROPPED = re.compile(r"[^a-z0-9-]")
_DASHES = re.compile(r"-{2,}")
MAX_LABEL_CHARS = 128
MAX_NAME_CHARS = 200
MAX_SLUG_CHARS = 63  # a DNS label: slugs name runtime objects


def parse_uuid(value: object, message: str) -> uuid.UUID:
    """Parse a UUID from a path, query or body value; InvalidInput(message) otherwise."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidInput(message)
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise InvalidInput(message) from None


def optional_uuid(value: str | None, message: str) -> uuid.UUID | None:
    if value is None or not value.strip():
        return None
    return parse_uuid(value, message)


def slugify(name: str) -> str:
    """The reference's slug derivation: lower-case a-z0-9, separators become one dash."""
    slug = _SEPARATORS.sub("-", name.lower())
    slug = _DASHES.sub("-", _DROPPED.sub("", slug))
    return slug.strip("-")


def resolve_slug(slug: str | None, name: str) -> str:
    """The given slug (trimmed), else one derived from the name (cut to a DNS label's
    length); '' when neither is valid."""
    candidate = (slug or "").strip() or slugify(name)[:MAX_SLUG_CHARS].rstrip("-")
    valid = SLUG_PATTERN.match(candidate) and len(candidate) <= MAX_SLUG_CHARS
    return candidate if valid else ""


def check_name(value: str) -> str:
    """A display name: trimmed, at most MAX_NAME_CHARS (blank is the caller's message)."""
    name = value.strip()
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"name is too long (at most {MAX_NAME_CHARS} characters)")
    return name


def clean_label(value: str | None, limit: int = MAX_LABEL_CHARS) -> str:
    """Header-style label: trimmed, control characters removed, at most `limit` characters."""
    if not value:
        return ""
    kept = "".join(ch for ch in value.strip() if unicodedata.category(ch)[0] != "C")
    return kept[:limit]


def clean_request_id(value: str | None) -> str:
    """Like clean_label, and whitespace is removed too (an id is one token)."""
    return "".join(clean_label(value).split())


def metadata_value(value: object) -> object:
    """Metadata is any JSON; null (on create or PATCH) means empty."""
    return {} if value is None else value


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def request_body(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate a request body (a RequestModel: camelCase names, strict types) the way the
    API does; a bad one is InvalidInput in words, with the offending field's path."""
    nul = _nul_path(data)
    if nul is not None:  # Postgres text and JSONB cannot store U+0000
        raise invalid(f"{nul or 'the request'} cannot contain NUL characters", nul)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, field = describe_errors(exc.errors(include_url=False))
        raise invalid(message, field) from None


def invalid(message: str, field: str) -> InvalidInput:
    """InvalidInput about one field (its path in the body; "" for the body as a whole)."""
    return InvalidInput(message, field=field) if field else InvalidInput(message)


def _nul_path(value: Any, path: str = "") -> str | None:
    """The path of the first string (value or key) holding U+0000; None when none does."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return inner
            found = _nul_path(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """The first pydantic error in words and its field path (`exposedPorts[0].name`, ""
    for the body as a whole)."""
    error = next(iter(errors), {})
    field = field_path(error.get("loc", ()))
    return _words(error, field or "the request"), field


def field_path(loc: Iterable[str | int]) -> str:
    """A pydantic location as a client writes it: `exposedPorts[0].name`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" not in part:  # not a validator's own step (`function-after[...]`)
            path += f".{part}" if path else part
    return path


_WORDS = {
    "missing": "{field} is required",
    "string_type": "{field} must be text",
    "string_too_long": "{field} is too long (at most {max_length} characters)",
    "string_too_short": "{field} is too short (at least {min_length} characters)",
    "int_type": "{field} must be a whole number",
    "int_parsing": "{field} must be a whole number",
    "int_from_float": "{field} must be a whole number",
    "float_type": "{field} must be a number",
    "float_parsing": "{field} must be a number",
    "bool_type": "{field} must be true or false",
    "bool_parsing": "{field} must be true or false",
    "list_type": "{field} must be a list",
    "too_long": "{field} has too many items (at most {max_length})",
    "too_short": "{field} needs at least {min_length} items",
    "dict_type": "{field} must be an object",
    "model_type": "{field} must be an object",
    "model_attributes_type": "{field} must be an object",
    "greater_than": "{field} must be greater than {gt}",
    "greater_than_equal": "{field} must be at least {ge}",
    "less_than": "{field} must be less than {lt}",
    "less_than_equal": "{field} must be at most {le}",
    "literal_error": "{field} must be {expected}",
    "enum": "{field} must be {expected}",
    "uuid_type": "{field} must be a UUID",
    "uuid_parsing": "{field} must be a UUID",
    "json_invalid": "the request is not valid JSON",
}


def _words(error: Mapping[str, Any], field: str) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f'unknown field "{field}"'
    if kind in _WORDS:
        try:
            return _WORDS[kind].format(field=field, **error.get("ctx", {}))
        except (KeyError, IndexError):
            pass
    reason = str(error.get("msg") or "invalid value").removeprefix("Value error, ")
    return f"{field} is invalid: {reason[:1].lower()}{reason[1:]}"
