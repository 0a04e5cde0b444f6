"""The three patch formats of the API server: JSON merge patch (RFC 7386), strategic merge
patch and JSON patch (RFC 6902, through the jsonpatch package).

Strategic merge patch is a practical subset of the real one: lists named in MERGE_KEYS are merged
item by item on their patchMergeKey (as the Go struct tags of core/v1 declare), `$patch: delete`
removes an item, `$patch: replace` replaces a map, `$deleteFromPrimitiveList/<list>` removes
values, `metadata.finalizers` merges as a set; `$setElementOrder` and `$retainKeys` are
accepted and ignored. Every other list is replaced, as for the real atomic lists.
Malformed patches raise ValueError.
"""

from __future__ import annotations

import copy

import jsonpatch

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
PRIMITIVE_SET_LISTS = {"finalizers"}
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"


def merge_patch(target: object, patch: object) -> object:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict, operations: object) -> dict:
    if not isinstance(operations, list):
        raise ValueError("a JSON patch must be a list of operations")
    try:
        return jsonpatch.apply_patch(target, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError) as error:
        raise ValueError(str(error)) from error


def strategic_merge_patch(target: object, patch: object) -> object:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _without_directives(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            name = key.removeprefix(DELETE_FROM_PRIMITIVE_LIST)
            result[name] = [item for item in result.get(name) or [] if item not in value]
        elif key.startswith("$"):
            continue  # $setElementOrder/..., $retainKeys: ordering hints we do not need
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_list(name: str, current: list, patch: list) -> list:
    if name in PRIMITIVE_SET_LISTS:
        return current + [item for item in patch if item not in current]
    key = _merge_key(name, current + patch)
    if key is None:
        return _without_directives(patch)
    merged = list(current)
    for item in patch:
        index = next((i for i, old in enumerate(merged) if old.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(_without_directives(item))
        else:
            merged[index] = strategic_merge_patch(merged[index], item)
    return merged


def _merge_key(name: str, items: list) -> str | None:
    if not all(isinstance(item, dict) for item in items):
        return None
    if name == "ports":  # container ports merge on containerPort, service ports on port
        return "containerPort" if any("containerPort" in item for item in items) else "port"
    return MERGE_KEYS.get(name)


def _without_directives(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_without_directives(item) for item in value]
    return value
