"""Input rules: slugs and header labels."""

from __future__ import annotations

import pytest

from backend.validation import clean_label, resolve_slug, slugify


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My App", "my-app"),
        ("a__b..c//d", "a-b-c-d"),
        ("Ünïcode", "ncode"),
        ("  ", ""),
        ("x--y", "x-y"),
    ],
)
def test_slugify(name, slug):
    assert slugify(name) == slug


def test_resolve_slug_prefers_the_given_one_and_checks_it():
    assert resolve_slug("given", "Name") == "given"
    assert resolve_slug(" ", "Name Here") == "name-here"
    assert resolve_slug("UPPER", "x") == ""
    assert resolve_slug(None, "!!!") == ""


def test_clean_label_drops_control_characters_and_truncates():
    assert clean_label("  a\tb\x00c\u200bd  ") == "abcd"
    assert clean_label("é" * 200) == "é" * 128
    assert clean_label(None) == ""
