"""The template dialog's Kubernetes fields: runtime class and warm pool size."""

from __future__ import annotations

import pytest

from backend.errors import InvalidInput
from backend.templates.models import TemplateRow
from state.template_form import TemplateForm, form_of, launch_fields, pool_fields


def test_the_runtime_class_shapes_the_launch_and_the_pool_size_does_not():
    form = TemplateForm(runtime_class="gvisor", warm_pool=" 3 ")
    assert launch_fields(form)["runtimeClassName"] == "gvisor"
    assert "warmPoolSize" not in launch_fields(form)  # a new size voids no validation
    assert pool_fields(form) == {"warmPoolSize": 3}


def test_an_empty_pool_size_is_the_servers_default():
    assert pool_fields(TemplateForm(warm_pool="  ")) == {"warmPoolSize": None}
    # The range is the service's to check: a negative number goes through to it.
    assert pool_fields(TemplateForm(warm_pool="-1")) == {"warmPoolSize": -1}
    with pytest.raises(InvalidInput, match="Warm pool size must be a whole number"):
        pool_fields(TemplateForm(warm_pool="two"))


@pytest.mark.parametrize(("stored", "shown"), [(None, ""), (0, "0"), (5, "5")])
def test_the_form_shows_what_the_template_has(stored, shown):
    row = TemplateRow(
        name="T", slug="t", image="i", runtime_class_name="kata", warm_pool_size=stored
    )
    form = form_of(row)
    assert (form.runtime_class, form.warm_pool) == ("kata", shown)
