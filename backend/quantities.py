"""Kubernetes resource quantities (`500m`, `1Gi`): parsing and canonical spelling.

Shared by the sandbox service (it validates requests and limits) and the reports above the
domains (the usage summary adds them up).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

# Kubernetes resource quantities: a number, then a binary (Ki..Ei) or decimal (n..E) suffix.
# A decimal exponent (`1e3`, `5E-1`) is Kubernetes' third form of suffix.
_QUANTITY = re.compile(
    r"^\+?(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d{1,3})|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)
_BINARY = {f"{p}i": Decimal(1024) ** n for n, p in enumerate("KMGTPE", start=1)}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_quantity(text: str) -> tuple[Decimal, bool] | None:
    """The value of a Kubernetes quantity and whether it used a binary suffix; None if invalid."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        return None
    number, exponent, suffix = match.group(1), match.group(2) or "", match.group(3) or ""
    try:
        value = Decimal(number + exponent)
    except InvalidOperation:
        return None
    if suffix in _BINARY:
        return value * _BINARY[suffix], True
    return value * _DECIMAL[suffix], False


def quantity_value(text: str | None) -> Decimal | None:
    """The value of a stored quantity; None when blank or unreadable (rows from before the
    services checked them)."""
    parsed = parse_quantity(text) if text and text.strip() else None
    return parsed[0] if parsed else None


def format_quantity(value: Decimal, *, binary: bool) -> str:
    """The shortest exact spelling: `1Gi` or `1500m`, like Kubernetes' canonical form."""
    if value == 0:
        return "0"
    if binary and value == value.to_integral_value():
        for suffix, unit in reversed(_BINARY.items()):
            if value % unit == 0:
                return f"{value // unit}{suffix}"
    for suffix, unit in sorted(_DECIMAL.items(), key=lambda item: -item[1]):
        scaled = value / unit
        if scaled == scaled.to_integral_value():
            return f"{int(scaled)}{suffix}"
    return f"{int((value / _DECIMAL['n']).to_integral_value())}n"


def add_quantities(texts: Iterable[str]) -> str | None:
    """The sum of quantities, spelled like Kubernetes (binary when any was); None if one
    does not parse."""
    total, binary = Decimal(0), False
    for text in texts:
        parsed = parse_quantity(text)
        if parsed is None:
            return None
        total += parsed[0]
        binary = binary or parsed[1]
    return format_quantity(total, binary=binary)
