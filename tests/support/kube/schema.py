"""What objects may look like: the agent-sandbox CRDs and the checks the real API server applies.

CRDs are read from the upstream YAML files (the directory named by MBOX_TEST_AGENT_SANDBOX_CRDS,
by default <repo>/../shared/crds/agent-sandbox-v0.5.6). Their conversion webhook does not exist
here, so conversion is treated as strategy None: every served version is a view of one stored
object and only apiVersion differs.

Emulated structural-schema behaviour (apply_schema), per requested version:
- nulls in fields that are not nullable are pruned, then defaults (`default`) are filled in for
  missing properties of objects that are present;
- unknown fields are pruned, except under `x-kubernetes-preserve-unknown-fields` or
  `additionalProperties: true`; `metadata` at the root is kept as it is;
- checked: type, required, enum, pattern, minLength/maxLength, minimum/maximum (and exclusive),
  minItems/maxItems, items, additionalProperties, nullable, x-kubernetes-int-or-string,
  format date-time;
- CEL `x-kubernetes-validations`: the CRDs of v0.5.6 carry exactly one rule, the Sandbox
  v1beta1 spec's "volumeClaimTemplates is immutable"; it is evaluated (KNOWN_RULES) on updates.
  Any other rule is NOT evaluated.
Not emulated: other formats (int32/int64 ranges, quantities beyond the schema's own pattern),
x-kubernetes-list-type uniqueness (set/map), maxProperties, oneOf/anyOf/allOf/not.

Every kind gets the metadata checks of validate_metadata: names (DNS-1123 subdomain, or label
for Namespaces and Services), label keys and values, ownerReferences (apiVersion, kind, name and
uid set; at most one controller). Core kinds get only that, plus what a Pod needs (containers
with a name and an image); the rest of their real validation is not emulated.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

CRD_DIR_ENV = "MBOX_TEST_AGENT_SANDBOX_CRDS"
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CRD_DIR = REPO_ROOT.parent / "shared" / "crds" / "agent-sandbox-v0.5.6"

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
# Kinds whose names are DNS-1123 labels rather than subdomains.
LABEL_NAMED_KINDS = {"Namespace", "Service"}


@dataclass(frozen=True)
class FieldError:
    """One metav1.StatusCause: `field: message`, e.g. `spec.warmPoolRef: Required value`."""

    field: str
    reason: str  # FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, ...
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    plural: str
    namespaced: bool
    storage_version: str
    versions: tuple[str, ...]  # served, storage version first
    status_subresource: bool
    schemas: dict[str, dict]  # version -> openAPIV3Schema


def crd_directory() -> Path:
    configured = os.environ.get(CRD_DIR_ENV)
    path = Path(configured) if configured else DEFAULT_CRD_DIR
    if not path.is_dir():
        raise FileNotFoundError(
            f"agent-sandbox CRD directory {path} does not exist: set {CRD_DIR_ENV} to the "
            "directory holding the kubernetes-sigs/agent-sandbox v0.5.6 CRD YAML files"
        )
    return path


@functools.cache
def load_crds(directory: Path) -> tuple[Crd, ...]:
    """Every CRD in the directory's *.yaml files (cached: the Sandbox CRDs are large)."""
    crds = []
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if document and document.get("kind") == "CustomResourceDefinition":
                crds.append(_crd(document))
    return tuple(crds)


def _crd(document: dict) -> Crd:
    spec = document["spec"]
    served = [v for v in spec["versions"] if v.get("served")]
    storage = next(v for v in served if v.get("storage"))
    ordered = [storage] + [v for v in served if v is not storage]
    return Crd(
        group=spec["group"],
        kind=spec["names"]["kind"],
        plural=spec["names"]["plural"],
        namespaced=spec["scope"] == "Namespaced",
        storage_version=storage["name"],
        versions=tuple(v["name"] for v in ordered),
        # The storage version's subresources decide what the store does with writes.
        status_subresource="status" in (storage.get("subresources") or {}),
        schemas={v["name"]: v["schema"]["openAPIV3Schema"] for v in ordered},
    )


def apply_schema(schema: dict, obj: dict, old: dict | None) -> tuple[dict, list[FieldError]]:
    """The object as a structural schema stores it (defaulted, pruned) and what is invalid."""
    errors: list[FieldError] = []
    body = copy.deepcopy(obj)
    metadata = body.pop("metadata", None)
    result = _check(schema, body, old, "", errors)
    if metadata is not None:
        result["metadata"] = metadata
    return result, errors


def _check(schema: dict, value: object, old: object, path: str, errors: list) -> object:
    if value is None:
        if not schema.get("nullable"):
            errors.append(_type_error(path, value, schema.get("type", "object")))
        return value
    if schema.get("x-kubernetes-int-or-string"):
        if not _is_type(value, "integer") and not isinstance(value, str):
            errors.append(_type_error(path, value, "integer-or-string"))
            return value
    elif not _is_type(value, schema.get("type")):
        errors.append(_type_error(path, value, schema["type"]))
        return value
    if isinstance(value, dict):
        value = _check_object(schema, value, old, path, errors)
    elif isinstance(value, list):
        value = _check_array(schema, value, old, path, errors)
    else:
        errors.extend(_scalar_errors(schema, value, path))
    errors.extend(_rule_errors(schema, value, old, path))
    return value


def _check_object(schema: dict, value: dict, old: object, path: str, errors: list) -> dict:
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    extra = additional if isinstance(additional, dict) else None  # schema of every other key
    keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") or additional is True
    # Nulls in fields that are not nullable are pruned before defaulting (apiextensions v1).
    value = {
        key: item
        for key, item in value.items()
        if item is not None or _keeps_null(properties.get(key) or extra)
    }
    for name, sub in properties.items():
        if name not in value and "default" in sub:
            value[name] = copy.deepcopy(sub["default"])
    old_map = old if isinstance(old, dict) else {}
    result = {}
    for key, item in value.items():
        if key in properties:
            child = f"{path}.{key}" if path else key
            result[key] = _check(properties[key], item, old_map.get(key), child, errors)
        elif extra is not None:
            result[key] = _check(extra, item, old_map.get(key), f"{path}[{key}]", errors)
        elif keep_unknown:
            result[key] = item
        # else: pruned, as a structural schema does
    for name in schema.get("required") or []:
        if name not in result:
            field = f"{path}.{name}" if path else name
            errors.append(FieldError(field, "FieldValueRequired", "Required value"))
    return result


def _keeps_null(field_schema: dict | None) -> bool:
    """Unknown keys keep a null (pruning or preserving decides); known ones when nullable."""
    return field_schema is None or bool(field_schema.get("nullable"))


def _check_array(schema: dict, value: list, old: object, path: str, errors: list) -> list:
    if "minItems" in schema and len(value) < schema["minItems"]:
        message = f"{path} in body should have at least {schema['minItems']} items"
        errors.append(_invalid(path, value, message))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        message = f"Too many: {len(value)}: must have at most {schema['maxItems']} items"
        errors.append(FieldError(path, "FieldValueTooMany", message))
    items = schema.get("items")
    if not items:
        return value
    old_items = old if isinstance(old, list) else []
    return [
        _check(items, item, old_items[i] if i < len(old_items) else None, f"{path}[{i}]", errors)
        for i, item in enumerate(value)
    ]


def _scalar_errors(schema: dict, value: object, path: str) -> list[FieldError]:
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_show(v) for v in schema["enum"])
        message = f"Unsupported value: {_show(value)}: supported values: {supported}"
        return [FieldError(path, "FieldValueNotSupported", message)]
    if isinstance(value, str):
        return _string_errors(schema, value, path)
    return _number_errors(schema, value, path)


def _string_errors(schema: dict, value: str, path: str) -> list[FieldError]:
    errors = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        message = f"Too long: may not be more than {schema['maxLength']} bytes"
        errors.append(FieldError(path, "FieldValueTooLong", message))
    if "minLength" in schema and len(value) < schema["minLength"]:
        message = f"{path} in body should be at least {schema['minLength']} chars long"
        errors.append(_invalid(path, value, message))
    if "pattern" in schema and not re.search(schema["pattern"], value):
        message = f"{path} in body should match '{schema['pattern']}'"
        errors.append(_invalid(path, value, message))
    if schema.get("format") == "date-time" and not _is_date_time(value):
        message = f"{path} in body must be of type date-time: {_show(value)}"
        errors.append(_invalid(path, value, message))
    return errors


def _number_errors(schema: dict, value: object, path: str) -> list[FieldError]:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return []
    errors = []
    if "minimum" in schema:
        exclusive = schema.get("exclusiveMinimum")
        if value < schema["minimum"] or (exclusive and value == schema["minimum"]):
            relation = "greater than" if exclusive else "greater than or equal to"
            message = f"{path} in body should be {relation} {schema['minimum']}"
            errors.append(_invalid(path, value, message))
    if "maximum" in schema:
        exclusive = schema.get("exclusiveMaximum")
        if value > schema["maximum"] or (exclusive and value == schema["maximum"]):
            relation = "less than" if exclusive else "less than or equal to"
            message = f"{path} in body should be {relation} {schema['maximum']}"
            errors.append(_invalid(path, value, message))
    return errors


def _immutable_volume_claim_templates(new: dict, old: dict) -> bool:
    return new.get("volumeClaimTemplates") == old.get("volumeClaimTemplates")


# CEL rules we evaluate, by their text with whitespace collapsed. Transition rules (they name
# oldSelf) run only on updates, as in the real server.
KNOWN_RULES = {
    "has(self.volumeClaimTemplates) == has(oldSelf.volumeClaimTemplates) && "
    "(!has(self.volumeClaimTemplates) || self.volumeClaimTemplates == "
    "oldSelf.volumeClaimTemplates)": _immutable_volume_claim_templates,
    "self == oldSelf": lambda new, old: new == old,
}


def _rule_errors(schema: dict, value: object, old: object, path: str) -> list[FieldError]:
    errors = []
    for rule in schema.get("x-kubernetes-validations") or []:
        check = KNOWN_RULES.get(" ".join(rule["rule"].split()))
        if check is None or ("oldSelf" in rule["rule"] and old is None):
            continue
        if not check(value, old):
            message = rule.get("message") or f"failed rule: {rule['rule']}"
            errors.append(_invalid(path, value, message))
    return errors


def validate_core(kind: str, obj: dict) -> list[FieldError]:
    errors = validate_metadata(kind, obj)
    if kind == "Pod":
        errors += _pod_errors(obj.get("spec") or {})
    return errors


def validate_metadata(kind: str, obj: dict) -> list[FieldError]:
    """The name and labels checks every kind gets (the object's name is already generated)."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name")
    errors = []
    if not name:
        message = "Required value: name or generateName is required"
        errors.append(FieldError("metadata.name", "FieldValueRequired", message))
    elif kind in LABEL_NAMED_KINDS:
        errors += _dns_errors("metadata.name", name, DNS_LABEL, 63, "label")
    else:
        errors += _dns_errors("metadata.name", name, DNS_SUBDOMAIN, 253, "subdomain")
    for key, value in (metadata.get("labels") or {}).items():
        errors += _label_errors(key, value)
    return errors + _owner_reference_errors(metadata.get("ownerReferences") or [])


def _owner_reference_errors(references: list) -> list[FieldError]:
    errors = []
    for reference in references:
        for field in ("apiVersion", "kind", "name", "uid"):
            if not reference.get(field):
                path = f"metadata.ownerReferences.{field}"
                errors.append(_invalid(path, "", f"{field} must not be empty"))
    if sum(1 for reference in references if reference.get("controller")) > 1:
        message = "Only one reference can have Controller set to true"
        errors.append(_invalid("metadata.ownerReferences", references, message))
    return errors


def _dns_errors(field: str, name: str, pattern: re.Pattern, limit: int, what: str) -> list:
    if pattern.fullmatch(name) and len(name) <= limit:
        return []
    characters = "'-' or '.'" if what == "subdomain" else "'-'"
    message = (
        f"a lowercase RFC 1123 {what} must consist of lower case alphanumeric characters, "
        f"{characters}, must start and end with an alphanumeric character and be at most "
        f"{limit} characters (regex used for validation is '{pattern.pattern}')"
    )
    return [_invalid(field, name, message)]


def _label_errors(key: str, value: object) -> list[FieldError]:
    prefix, _, name = key.rpartition("/")
    valid_key = LABEL_NAME.fullmatch(name) and len(name) <= 63
    if prefix and not (DNS_SUBDOMAIN.fullmatch(prefix) and len(prefix) <= 253):
        valid_key = False
    errors = []
    if not valid_key:
        message = "name part must consist of alphanumeric characters, '-', '_' or '.'"
        errors.append(_invalid("metadata.labels", key, message))
    if not isinstance(value, str) or not LABEL_VALUE.fullmatch(value) or len(value) > 63:
        message = (
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )
        errors.append(_invalid("metadata.labels", value, message))
    return errors


def _pod_errors(spec: dict) -> list[FieldError]:
    containers = spec.get("containers") or []
    if not containers:
        return [FieldError("spec.containers", "FieldValueRequired", "Required value")]
    errors = []
    for index, container in enumerate(containers):
        field = f"spec.containers[{index}]"
        if not container.get("name"):
            errors.append(FieldError(f"{field}.name", "FieldValueRequired", "Required value"))
        elif not DNS_LABEL.fullmatch(container["name"]):
            errors += _dns_errors(f"{field}.name", container["name"], DNS_LABEL, 63, "label")
        if not container.get("image"):
            errors.append(FieldError(f"{field}.image", "FieldValueRequired", "Required value"))
    return errors


def _is_type(value: object, type_name: str | None) -> bool:
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = {"string": str, "boolean": bool, "object": dict, "array": list}.get(type_name)
    return expected is None or isinstance(value, expected)


def _is_date_time(value: str) -> bool:
    if "T" not in value.upper():
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _type_error(path: str, value: object, type_name: str) -> FieldError:
    return _invalid(path, value, f"{path} in body must be of type {type_name}: {_show(value)}")


def _invalid(path: str, value: object, detail: str) -> FieldError:
    return FieldError(path, "FieldValueInvalid", f"Invalid value: {_show(value)}: {detail}")


def _show(value: object) -> str:
    """Values in messages as the Go server prints them: strings quoted, containers named."""
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return '"null"' if value is None else json.dumps(value)
