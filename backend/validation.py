"""Small input rules shared by services: ids, slugs, labels."""

from __future__ import annotations

import re
import unicodedata
import uuid

from backend.errors import InvalidInput

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
