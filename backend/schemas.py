"""Shared building blocks of the API schemas: camelCase wire names, strict request bodies."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# No single string field of a request needs more (names have tighter limits in services).
MAX_STRING_CHARS = 4096


class PublicModel(BaseModel):
    """A response body: camelCase names; fields that are None are omitted on the wire.

    `from_row` builds it from a table row with the same attribute names (`metadata` is the
    row's `meta`); fields named in `omit_empty` are omitted when empty ("", [], {})."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    omit_empty: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_row(cls, row: Any) -> Self:
        values = {}
        for name in cls.model_fields:
            value = getattr(row, "meta" if name == "metadata" else name, None)
            if name in cls.omit_empty and value in ("", [], {}):
                value = None
            values[name] = value
        return cls.model_validate(values)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RequestModel(BaseModel):
    """A request body: camelCase names only, unknown fields refused, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        extra="forbid",
        strict=True,
        validate_by_name=False,
        str_max_length=MAX_STRING_CHARS,
    )

    def given(self, field: str) -> bool:
        """Whether the client sent this field (PATCH: absent keeps, null may clear)."""
        return field in self.model_fields_set

    def sent_fields(self) -> list[str]:
        """The wire names of the fields the client sent, sorted (for audit metadata)."""
        fields = type(self).model_fields
        return sorted(fields[name].alias or name for name in self.model_fields_set)


class DeniedRuleBody(BaseModel):
    """A rule of a policy or quota denial (backend.errors.DeniedRule)."""

    rule: str = Field(description="the policy field: allowedImagePrefixes, maxCpu, ...")
    value: Any = Field(description="the offending value (image, account, quantity, ...)")
    message: str = Field(description="the reason, as in the error message")
    limit: Any = Field(default=None, description="quotas: the limit")
    current: Any = Field(default=None, description="quotas: the usage before the change")
    requested: Any = Field(default=None, description="quotas: what the change asked for")
    sandbox_id: str | None = Field(
        default=None, alias="sandboxId", description="the sandbox it is about"
    )


class DenialBody(BaseModel):
    operation: str = Field(description="sandbox.launch, sandbox.start, template.update, ...")
    rules: list[DeniedRuleBody]


class ErrorBody(BaseModel):
    error: str
    detail: dict[str, Any] | None = Field(
        default=None,
        description="structured context: `field` (the request field at fault, e.g. "
        "exposedPorts[0].name), `reason` (what was wrong with it, under a combined "
        "message), `sandboxIds` and `count` (a refused project delete)",
    )
    denial: DenialBody | None = Field(
        default=None, description="a 403 policy or quota denial: the operation and its rules"
    )


def uuid_field(**kwargs: Any) -> Any:
    return Field(json_schema_extra={"format": "uuid"}, **kwargs)
