"""Small input rules shared by services: ids, slugs, labels, and request bodies read in
words a person understands (which field, what was wrong)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from backend.errors import InvalidInput
from backend.quantities import parse_quantity

M = TypeVar("M", bound=BaseModel)

SLUG_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_SEPARATORS = re.compile(r"[\s\-_./]+")
_DROPPED = re.compile(r"[^a-z0-9-]")
_DASHES = re.compile(r"-{2,}")
MAX_LABEL_CHARS = 128
MAX_NAME_CHARS = 200
MAX_SLUG_CHARS = 63  # a DNS label: slugs name runtime objects
SLUG_RULE = "lower-case letters, digits and '-', at most 63 characters (for example my-app)"
# Kubernetes' names (RFC 1123): a namespace or service account is a DNS label, a
# RuntimeClass a DNS subdomain; a container port's name an IANA service name.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_DNS_SUBDOMAIN = 253
# The cluster's own namespaces: sandboxes (and the service accounts and templates mbox
# makes) must never sit beside the cluster's system components.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")
# A container image reference (the distribution grammar): [registry[:port]/]path[:tag][@digest].
_HOST_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
MAX_IMAGE_CHARS = 512
MAX_URL_CHARS = 2048
# Repositories: http(s)://, git:// and ssh:// URLs, or scp-like git@host:path.
URL_SCHEMES = ("http", "https", "git", "ssh")
SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//).+$")
SERVER_PATH = re.compile(r"^/(?![/\\])")  # `/x`, not `//host` nor `/\host`


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


def check_name(value: str, field: str = "name") -> str:
    """A display name: trimmed, one line, at most MAX_NAME_CHARS (blank is the caller's
    message)."""
    name = value.strip()
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"{field} is too long (at most {MAX_NAME_CHARS} characters)", field=field
        )
    if has_control_characters(name):
        raise InvalidInput(
            f"{field} cannot contain control characters (tabs, line breaks, escapes)", field=field
        )
    return name


def has_control_characters(text: str) -> bool:
    """Whether the text holds a control character (a tab, a line break, an escape)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def name_and_slug(name: str | None, slug: str | None, message: str) -> tuple[str, str]:
    """A checked display name and its slug (the given one, else derived from the name).
    Missing or invalid ones are InvalidInput(`message`: the contract's words for all the
    required fields) with the field and, in `reason`, what was wrong with it."""
    checked = check_name(name or "")
    if not checked:
        raise InvalidInput(message, field="name", reason="name is required")
    resolved = resolve_slug(slug, checked)
    if resolved:
        return checked, resolved
    if blank(slug):
        reason = "name needs a letter or digit (a-z, 0-9) to make the slug from; or give a slug"
        raise InvalidInput(message, field="name", reason=reason)
    raise InvalidInput(message, field="slug", reason=f"slug must be {SLUG_RULE}")


def required(value: str | None, field: str, message: str = "") -> str:
    """A trimmed value that may not be blank (message: the contract's words, if any)."""
    if blank(value):
        reason = f"{field} is required"
        raise InvalidInput(message or reason, field=field, reason=reason)
    return (value or "").strip()


def dns_label(value: str, field: str) -> str:
    """A namespace or service account name: Kubernetes refuses anything but a DNS label."""
    label = value.strip()
    if not DNS_LABEL.match(label):
        raise InvalidInput(
            f"{field} {_shown(label)} is not a DNS label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters "
            "(for example team-a)",
            field=field,
        )
    return label


def check_namespace(value: str, field: str) -> str:
    """A Kubernetes namespace for sandboxes: a DNS label, and not one of the cluster's own
    (the Kubernetes runtime refuses those at launch: better said when it is typed)."""
    label = dns_label(value, field)
    if cluster_namespace(label):
        raise InvalidInput(
            f'{field} "{label}" belongs to the Kubernetes cluster itself: choose another '
            "(for example team-a)",
            field=field,
        )
    return label


def cluster_namespace(name: str) -> bool:
    """Whether the namespace is one of the cluster's own (the API and the Kubernetes
    runtime both refuse these)."""
    return name in RESERVED_NAMESPACES or name.startswith("kube-")


def dns_subdomain(value: str, field: str, example: str) -> str:
    """A DNS subdomain name (lower-case labels joined by dots), or "" for none."""
    name = value.strip()
    if name and (len(name) > MAX_DNS_SUBDOMAIN or not DNS_SUBDOMAIN.match(name)):
        raise InvalidInput(
            f"{field} must be a DNS subdomain name such as {example} "
            f"(lower-case letters, digits, '-' and '.'; at most {MAX_DNS_SUBDOMAIN} characters)",
            field=field,
        )
    return name


def quantity(value: str, field: str, example: str) -> str:
    """A Kubernetes resource quantity (`500m`, `2Gi`), or "" for none."""
    text = value.strip()
    if text and parse_quantity(text) is None:
        raise InvalidInput(
            f"{field} {_shown(text)} is not a Kubernetes quantity (for example {example})",
            field=field,
        )
    return text


def port_name(value: str | None, field: str) -> str:
    """A container port's name (Kubernetes' IANA_SVC_NAME): at most 15 lower-case letters,
    digits and '-', at least one letter, no '-' at either end nor twice in a row."""
    name = required(value, field, "port name is required")
    if not PORT_NAME.match(name) or "--" in name or not re.search("[a-z]", name):
        raise InvalidInput(
            f"{field} {_shown(name)} is not a port name: at most 15 lower-case letters, "
            "digits and '-', with at least one letter (for example web or http-alt)",
            field=field,
        )
    return name


def image_reference(value: str, field: str = "image") -> str:
    """A container image as Kubernetes and registries name it (`python:3.12`,
    `ghcr.io/org/app:1`, `app@sha256:...`)."""
    image = value.strip()
    if len(image) > MAX_IMAGE_CHARS or not IMAGE_REFERENCE.match(image):
        raise InvalidInput(
            f"{field} {_shown(image)} is not an image reference: lower-case repository path, "
            "optional registry, :tag and @digest (for example python:3.12 or "
            "ghcr.io/org/app:1)",
            field=field,
        )
    return image


def repository_url(value: str, field: str = "repositoryUrl") -> str:
    """A repository's address, or "" for none: an http(s), git or ssh URL with a host, or
    scp-like git@host:path; one token, at most MAX_URL_CHARS, without a password."""
    return _url(
        value,
        field,
        lambda url: _url_with_host(url, URL_SCHEMES) or bool(SCP_LIKE.match(url)),
        "an http(s) or git URL (for example https://github.com/org/repo.git or "
        "git@github.com:org/repo.git)",
    )


def link_url(value: str, field: str) -> str:
    """An address the console shows as a link, or "" for none: http(s) with a host, or a
    path on this server (`/...`); never `javascript:` and the like."""
    return _url(
        value,
        field,
        lambda url: _url_with_host(url, ("http", "https")) or SERVER_PATH.match(url) is not None,
        "an http(s) URL or a path on this server (for example https://app.example.com/)",
    )


def _url(value: str, field: str, accepted: Callable[[str], bool], kind: str) -> str:
    url = value.strip()
    if not url:
        return ""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"{field} is too long (at most {MAX_URL_CHARS} characters)", field=field)
    if not (_plain_token(url) and accepted(url)):
        raise InvalidInput(f"{field} {_shown(url)} is not {kind}", field=field)
    if _has_password(url):  # a token in the URL would be stored and shown to every reader
        raise InvalidInput(
            f"{field} must not hold a password or token: use a credential reference",
            field=field,
        )
    return url


def _plain_token(text: str) -> bool:
    return not any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in text)


def _url_with_host(url: str, schemes: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in schemes and bool(parts.hostname)
    except ValueError:  # a malformed port or IPv6 literal
        return False


def _has_password(url: str) -> bool:
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def _shown(value: str) -> str:
    """A value quoted in a message, cut to 64 characters."""
    return f'"{value[:64]}…"' if len(value) > 64 else f'"{value}"'


@contextmanager
def about(field: str) -> Iterator[None]:
    """Name `field` on an InvalidInput raised inside that names none."""
    try:
        yield
    except InvalidInput as exc:
        exc.detail.setdefault("field", field)
        raise


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
    nul = nul_path(data)
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


def nul_path(value: Any, path: str = "") -> str | None:
    """The path of the first string (value or key) holding U+0000; None when none does."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return inner
            found = nul_path(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
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
        elif not _validator_step(part):
            path += f".{part}" if path else part
    return path


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def _validator_step(part: str) -> bool:
    """A step pydantic adds inside a field: a union member (`int`, `constrained-str`) or a
    validator (`function-after[...]`); no wire name looks like one."""
    return "[" in part or "-" in part or part in _TYPE_TAGS


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
