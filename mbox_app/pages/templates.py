"""Templates: the environment template library, its create/edit dialog and validation runs."""

from __future__ import annotations

import reflex as rx

from components.dialogs import confirm_delete, form_dialog, modal_form
from components.feedback import empty_state, error_callout, fix_link, notice_callout
from components.forms import (
    choice_field,
    code_input,
    error_at,
    field,
    field_error,
    field_hint,
    invalid_props,
    search_box,
    text_field,
    unplaced,
)
from components.templates import (
    VALIDATION_STATUSES,
    build_recipe,
    build_status,
    template_card,
)
from components.theme import MONO, TEXT_SECONDARY, TEXT_TERTIARY
from mbox_app.pages.frame import console_page
from state.sign_in import SignInState
from state.template_form import NETWORK_POLICIES, PULL_POLICIES, RUNTIMES, SIZES
from state.templates import ALL, TemplateCard, TemplatesState

TITLE = "Templates"
DESCRIPTION = "Environment templates sandboxes are launched from."
RUNTIME_OPTIONS = [(name, name) for name in RUNTIMES]
SIZE_OPTIONS = [
    *((name, f"{name} · {cpu} CPU, {memory}") for name, (cpu, memory) in SIZES.items()),
    ("Custom", "Custom"),
]
NETWORK_OPTIONS = [(policy, policy.capitalize()) for policy in NETWORK_POLICIES]
PULL_OPTIONS = [
    (policy, "Default (by the image's tag)" if policy == "default" else policy)
    for policy in PULL_POLICIES
]
BUILD_EXAMPLE = '{"base": "debian:bookworm", "packages": ["python3"], "files": [], "user": "user"}'
form = TemplatesState.form


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            toolbar(),
            error_callout(TemplatesState.error),
            rx.cond(
                ~TemplatesState.validate_open,
                fix_link(TemplatesState.fix_words, TemplatesState.fix_href),
            ),
            notice_callout(TemplatesState.notice),
            library(),
            spacing="4",
            align="stretch",
        ),
        validate_dialog(),
        inspector_dialog(),
        active="templates",
        title=TITLE,
        description=DESCRIPTION,
    )


def toolbar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            search_box(
                TemplatesState.query,
                TemplatesState.set_query,
                label="Search templates",
                placeholder="Search name, slug, image or use case",
                flex="1",
                min_width="14rem",
            ),
            rx.cond(SignInState.can_operate, editor_dialog()),
            align="center",
            width="100%",
            spacing="3",
        ),
        rx.hstack(
            choice_field(
                "Scope",
                id="template-scope-filter",
                value=TemplatesState.scope_filter,
                on_change=TemplatesState.set_scope_filter,
                options=TemplatesState.scope_choices,
                width="12rem",
            ),
            choice_field(
                "Runtime",
                id="template-runtime-filter",
                value=TemplatesState.runtime_filter,
                on_change=TemplatesState.set_runtime_filter,
                options=[(ALL, "All runtimes"), *RUNTIME_OPTIONS],
                width="12rem",
            ),
            choice_field(
                "Validation",
                id="template-status-filter",
                value=TemplatesState.status_filter,
                on_change=TemplatesState.set_status_filter,
                options=[(ALL, "Any status"), *((v, w) for v, w, _ in VALIDATION_STATUSES)],
                width="12rem",
            ),
            rx.spacer(),
            rx.text(TemplatesState.count_words, size="2", color=TEXT_SECONDARY, role="status"),
            align="end",
            width="100%",
            spacing="3",
            wrap="wrap",
        ),
        spacing="3",
        width="100%",
    )


def library() -> rx.Component:
    return rx.cond(
        TemplatesState.visible.length() > 0,
        rx.grid(
            rx.foreach(TemplatesState.visible, card),
            columns=rx.breakpoints(initial="1", md="2", xl="3"),
            gap="1rem",
            aria_label="Template library",
            role="list",
        ),
        rx.cond(
            TemplatesState.cards.length() > 0,
            empty_state(
                "search-x",
                "No template matches",
                "Try other words, or clear the filters.",
                rx.button(
                    "Clear filters", variant="soft", size="2", on_click=TemplatesState.clear_filters
                ),
            ),
            empty_state(
                "layout-template",
                "No templates yet",
                "A template is a launch recipe: image, startup command, ports and size.",
            ),
        ),
    )


def card(item: rx.Var[TemplateCard]) -> rx.Component:
    return rx.box(
        template_card(item, run=latest_run(item), actions=card_actions(item)),
        role="listitem",
        min_width="0",
    )


def latest_run(item: rx.Var[TemplateCard]) -> rx.Component:
    """The latest validation run: a link to its sandbox and, while testing, the verdict."""
    return rx.cond(
        item.run_words,
        rx.vstack(
            rx.hstack(
                rx.icon("flask-conical", size=14, color=TEXT_TERTIARY),
                rx.cond(
                    item.run_id,
                    rx.link(item.run_words, href="/sandboxes/" + item.run_id, size="1"),
                    rx.text(item.run_words, size="1", color=TEXT_TERTIARY),
                ),
                spacing="2",
                align="center",
            ),
            rx.cond(
                (item.status == "testing") & (item.run_id != "") & SignInState.can_operate,
                rx.hstack(
                    rx.button(
                        rx.icon("check", size=14),
                        "Mark passed",
                        size="1",
                        color_scheme="green",
                        variant="soft",
                        aria_label="Mark passed: " + item.name,
                        on_click=TemplatesState.decide(item.id, item.run_id, "passed"),
                    ),
                    rx.button(
                        rx.icon("x", size=14),
                        "Mark failed",
                        size="1",
                        color_scheme="red",
                        variant="soft",
                        aria_label="Mark failed: " + item.name,
                        on_click=TemplatesState.decide(item.id, item.run_id, "failed"),
                    ),
                    spacing="2",
                ),
            ),
            spacing="2",
            padding="0.5rem 0.75rem",
            border_radius="0.5rem",
            background=rx.color("gray", 2),
            width="100%",
        ),
    )


def card_actions(item: rx.Var[TemplateCard]) -> rx.Component:
    """Inspect for everyone; validate, edit and delete for a role that may operate."""
    return rx.hstack(
        rx.cond(SignInState.can_operate, operate_actions(item)),
        rx.button(
            rx.icon("scan-search", size=14),
            "Inspect",
            size="1",
            variant="soft",
            color_scheme="gray",
            aria_label="Inspect " + item.name,
            aria_haspopup="dialog",
            on_click=TemplatesState.inspect(item.id),
        ),
        rx.spacer(),
        rx.cond(SignInState.can_operate, delete_action(item)),
        spacing="2",
        align="center",
        width="100%",
        wrap="wrap",
    )


def operate_actions(item: rx.Var[TemplateCard]) -> rx.Component:
    return rx.fragment(
        rx.button(
            rx.icon("rocket", size=14),
            "Launch",
            size="1",
            aria_label="Launch " + item.name,
            on_click=rx.redirect("/sandboxes?launch=" + item.id),
        ),
        rx.button(
            rx.icon("flask-conical", size=14),
            "Validate",
            size="1",
            variant="soft",
            aria_label="Validate " + item.name,
            on_click=TemplatesState.validate(item.id),
        ),
        rx.button(
            rx.icon("pencil", size=14),
            "Edit",
            size="1",
            variant="soft",
            aria_label="Edit " + item.name,
            on_click=TemplatesState.edit(item.id),
        ),
    )


def delete_action(item: rx.Var[TemplateCard]) -> rx.Component:
    return rx.fragment(
        confirm_delete(
            "Delete",
            size="1",
            variant="ghost",
            aria_label="Delete " + item.name,
            title="Delete template",
            description="Delete " + item.name + "? Sandboxes can no longer launch from it. "
            "A template still used by a sandbox is kept.",
            confirm="Delete template",
            on_confirm=TemplatesState.delete(item.id),
        ),
    )


# -- the create/edit dialog ------------------------------------------------------------------


def form_error(name: str) -> rx.Var[str]:
    """The refusal about dialog field `name` (a TemplateForm field), "" for none."""
    return error_at(TemplatesState.editor_error, TemplatesState.error_field, name)


def form_text(label: str, name: str, *, placeholder: str = "", hint: str = "") -> rx.Component:
    return text_field(
        label,
        id=f"template-{name.replace('_', '-')}",
        value=getattr(form, name),
        on_change=lambda value: TemplatesState.set_field(name, value),
        placeholder=placeholder,
        hint=hint,
        error=form_error(name),
    )


def form_code(
    label: str, name: str, *, placeholder: str = "", hint: str = "", **props
) -> rx.Component:
    id = f"template-{name.replace('_', '-')}"
    error = form_error(name)
    control = code_input(
        id=id,
        name=id,
        placeholder=placeholder,
        value=getattr(form, name),
        on_change=lambda value: TemplatesState.set_field(name, value),
        **invalid_props(id, error),
        **props,
    )
    below = [field_hint(hint)] if hint else []
    return field(label, control, *below, field_error(id, error), html_for=id, width="100%")


def form_lines(label: str, name: str, *, placeholder: str, hint: str) -> rx.Component:
    id = f"template-{name}"
    error = form_error(name)
    control = rx.text_area(
        id=id,
        name=id,
        value=getattr(form, name),
        placeholder=placeholder,
        rows="3",
        on_change=lambda value: TemplatesState.set_field(name, value),
        font_family=MONO,
        spellcheck=False,
        width="100%",
        **invalid_props(id, error),
    )
    return field(
        label, control, field_hint(hint), field_error(id, error), html_for=id, width="100%"
    )


def pair(*fields: rx.Component) -> rx.Component:
    return rx.grid(*fields, columns="2", gap="0.75rem", width="100%")


def essentials() -> rx.Component:
    return rx.vstack(
        rx.cond(
            TemplatesState.editing_id,
            rx.fragment(),
            choice_field(
                "Scope",
                id="template-scope",
                value=form.scope,
                on_change=lambda v: TemplatesState.set_field("scope", v),
                options=TemplatesState.form_scopes,
                width="100%",
            ),
        ),
        form_text("Name", "name", placeholder="Payments API dev"),
        pair(
            choice_field(
                "Runtime",
                id="template-runtime",
                value=form.runtime_type,
                on_change=TemplatesState.set_runtime_type,
                options=RUNTIME_OPTIONS,
                width="100%",
            ),
            choice_field(
                "Size",
                id="template-size",
                value=form.size,
                on_change=TemplatesState.set_size,
                options=SIZE_OPTIONS,
                width="100%",
            ),
        ),
        form_text("Use case", "use_case", placeholder="A web app served on port 3000"),
        form_code(
            "Preview ports",
            "ports",
            placeholder="web:3000, api:8080",
            hint="name:port, comma separated; a bare port is named port-<n>.",
        ),
        rx.cond(
            (TemplatesState.editing_id == "") & TemplatesState.scoped_to_project,
            rx.text(
                rx.flex(
                    rx.checkbox(
                        checked=form.make_default,
                        on_change=TemplatesState.set_make_default,
                        id="template-make-default",
                        name="template-make-default",
                    ),
                    rx.el.label(
                        "Use as the project's default template", html_for="template-make-default"
                    ),
                    spacing="2",
                    align="center",
                ),
                as_="div",
                size="2",
            ),
        ),
        spacing="3",
        width="100%",
    )


def advanced() -> rx.Component:
    return rx.el.details(
        rx.el.summary(
            "Advanced",
            cursor="pointer",
            font_weight="500",
            font_size="0.875rem",
            padding="0.25rem 0",
        ),
        rx.vstack(
            rx.cond(
                TemplatesState.editing_id,
                rx.fragment(),
                form_code(
                    "Slug",
                    "slug",
                    placeholder="derived from the name",
                    hint="Lower-case letters, digits and dashes; cannot change later.",
                ),
            ),
            form_code("Image", "image", placeholder="node:22-bookworm-slim"),
            form_code(
                "Startup command",
                "command",
                placeholder="sh -c 'npm run dev'",
                hint="Shell quoting or a JSON array; empty keeps the sandbox idle.",
            ),
            pair(
                form_code("Working directory", "working_dir", placeholder="/workspace"),
                form_code(
                    "Workspace storage",
                    "storage",
                    placeholder="2Gi",
                    hint="Empty: an ephemeral workspace.",
                ),
            ),
            pair(
                form_code("CPU", "cpu", placeholder="500m"),
                form_code("Memory", "memory", placeholder="1Gi"),
            ),
            form_lines(
                "Environment",
                "env",
                placeholder="NODE_ENV=development",
                hint="One KEY=VALUE per line.",
            ),
            form_code(
                "Secret references",
                "secrets",
                placeholder="git-token:token, npmrc",
                hint="name or name:key, comma separated; the launch policy must allow them.",
            ),
            pair(
                choice_field(
                    "Network",
                    id="template-network",
                    value=form.network,
                    on_change=lambda v: TemplatesState.set_field("network", v),
                    options=NETWORK_OPTIONS,
                    width="100%",
                ),
                rx.box(),
            ),
            pair(
                form_code(
                    "TTL (seconds)", "ttl", placeholder="none", hint="A sandbox's lease; renewable."
                ),
                form_code(
                    "Idle timeout (seconds)",
                    "idle",
                    placeholder="none",
                    hint="Stops a sandbox with no activity.",
                ),
            ),
            pair(
                form_code(
                    "Runtime class",
                    "runtime_class",
                    placeholder="gvisor",
                    hint="Kubernetes RuntimeClass of the pod; empty: the cluster's default.",
                ),
                form_code(
                    "Warm pool size",
                    "warm_pool",
                    placeholder="server default",
                    hint="Kubernetes: sandboxes kept ready, 0 to 100.",
                    type="number",  # the range is the service's to check (its words)
                ),
            ),
            pull_policy_field(),
            build_field(),
            spacing="3",
            width="100%",
            padding_top="0.75rem",
        ),
        width="100%",
        border_top=f"1px solid {rx.color('gray', 5)}",
        padding_top="0.75rem",
        # Unfolds (and stays so) when a refusal names a field in it; never folds it.
        open=TemplatesState.advanced_open,
    )


def pull_policy_field() -> rx.Component:
    """The image pull policy. Labelled "Pull policy" (the words "Image pull policy" are its
    hint): a label holding "Image" would make the Image field's label ambiguous."""
    return rx.vstack(
        choice_field(
            "Pull policy",
            id="template-pull-policy",
            value=form.pull_policy,
            on_change=lambda v: TemplatesState.set_field("pull_policy", v),
            options=PULL_OPTIONS,
            width="100%",
        ),
        field_hint(
            "Image pull policy: whether a launch pulls the image again. Default follows "
            "the image's tag: Always for :latest or no tag, else IfNotPresent."
        ),
        spacing="1",
        width="100%",
    )


def build_field() -> rx.Component:
    """The build recipe as JSON; its syntax is checked here, in words under the field."""
    id = "template-build"
    error = rx.cond(TemplatesState.build_error, TemplatesState.build_error, form_error("build"))
    control = rx.text_area(
        id=id,
        name=id,
        value=form.build,
        placeholder=BUILD_EXAMPLE,
        rows="5",
        on_change=lambda value: TemplatesState.set_field("build", value),
        font_family=MONO,
        spellcheck=False,
        width="100%",
        **invalid_props(id, error),
    )
    return field(
        "Build recipe (JSON)",
        control,
        field_error(id, error),
        field_hint(
            "Blank: none. base (debian:bookworm or debian:trixie), packages, files "
            "(path, content, mode) and user (user or root): the local runtime builds this "
            "image on first launch and runs it instead of pulling the image."
        ),
        html_for=id,
        width="100%",
    )


def inspector_dialog() -> rx.Component:
    """A template's recipe and where its build stands on the runtime, with the log."""
    card = TemplatesState.inspected
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(card.name, overflow_wrap="anywhere"),
            rx.dialog.description(
                "What the template runs, and its image build on this runtime.",
                size="2",
                color=TEXT_SECONDARY,
            ),
            rx.vstack(
                build_recipe(card),
                rx.cond(
                    card.has_build,
                    build_status(
                        state=TemplatesState.build_state,
                        label=TemplatesState.build_state_label,
                        reference=TemplatesState.build_reference,
                        digest=TemplatesState.build_digest,
                        message=TemplatesState.build_message,
                        log=TemplatesState.build_log,
                        error=TemplatesState.build_read_error,
                    ),
                ),
                rx.flex(
                    rx.cond(
                        card.has_build,
                        rx.button(
                            rx.icon("refresh-cw", size=14),
                            "Refresh build",
                            variant="soft",
                            on_click=TemplatesState.refresh_build,
                        ),
                    ),
                    rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                    spacing="3",
                    justify="end",
                    width="100%",
                ),
                spacing="4",
                margin_top="1rem",
                align="stretch",
            ),
            max_width="40rem",
        ),
        open=TemplatesState.inspector_open,
        on_open_change=TemplatesState.set_inspector_open,
    )


def editor_dialog() -> rx.Component:
    return form_dialog(
        essentials(),
        advanced(),
        icon="plus",
        trigger="New template",
        title=TemplatesState.editor_title,
        description="What a sandbox launched from it runs: the essentials first, the rest "
        "under Advanced.",
        submit="Save template",
        error=unplaced(TemplatesState.editor_error, TemplatesState.error_field),
        busy=TemplatesState.editor_busy,
        on_submit=TemplatesState.save,
        is_open=TemplatesState.editor_open,
        on_open_change=TemplatesState.set_editor_open,
        max_width="40rem",
    )


def validate_dialog() -> rx.Component:
    """Which project a global template's validation run launches in."""
    return modal_form(
        choice_field(
            "Project",
            id="validate-project",
            value=TemplatesState.validate_project,
            on_change=TemplatesState.set_validate_project,
            options=TemplatesState.projects,
            width="100%",
        ),
        fix_link(TemplatesState.fix_words, TemplatesState.fix_href),
        title="Validate template",
        description=rx.fragment(
            "Launch a sandbox from ",
            rx.text.strong(TemplatesState.validate_name),
            " to try it out, then mark the run passed or failed. A global template "
            "runs in one of your projects, under its launch policy and quota.",
        ),
        submit=rx.button(
            rx.icon("flask-conical", size=14),
            "Launch validation run",
            type="submit",
            loading=TemplatesState.validate_busy,
        ),
        error=TemplatesState.validate_error,
        on_submit=TemplatesState.start_validation,
        is_open=TemplatesState.validate_open,
        on_open_change=TemplatesState.set_validate_open,
        max_width="28rem",
    )
