"""Bad input names its field: `{"error": <words>, "detail": {"field": <path>}}`, a 400,
and nothing stored (issue 18). Values the Kubernetes runtime would refuse are refused when
they are given: quantities, DNS labels, port names, image references, repository URLs."""

from __future__ import annotations

import uuid

import pytest

from backend.templates.models import TemplateRow

LONG = "x" * 5000


@pytest.fixture
def world(api):
    project = api.project(name="World")
    template = api.template(name="Base", exposedPorts=[{"name": "web", "port": 8080}])
    sandbox = api.sandbox(project, template, name="Box")
    return {
        "project": project["id"],
        "template": template["id"],
        "sandbox": sandbox["id"],
        "projectPath": f"/v1/projects/{project['id']}",
        "templatePath": f"/v1/templates/{template['id']}",
        "sandboxPath": f"/v1/sandboxes/{sandbox['id']}",
    }


def _creates(world):
    """Each create route with a body it accepts."""
    return {
        "project": ("/v1/projects", {"name": "Fresh", "defaultNamespace": "fresh"}),
        "template": ("/v1/templates", {"name": "Fresh", "image": "python:3.12"}),
        "sandbox": (
            "/v1/sandboxes",
            {"projectId": world["project"], "templateId": world["template"], "name": "Fresh"},
        ),
    }


def _refused(response, field, before, row_counts, *, message=None):
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["detail"]["field"] == field, body
    if message is not None:
        assert body["error"].startswith(message), body
    assert row_counts() == before
    return body["error"]


# -- the new rules -----------------------------------------------------------------------

RULES = [
    # (resource, field, value, the message's start, the field path)
    (
        "project",
        "defaultNamespace",
        "Kube_System",
        'defaultNamespace "Kube_System" is not a DNS label',
        None,
    ),
    ("project", "defaultNamespace", "a" * 205, "defaultNamespace", None),
    ("project", "defaultNamespace", "team-", 'defaultNamespace "team-" is not a DNS label', None),
    (
        "project",
        "repositoryUrl",
        "not a url",
        'repositoryUrl "not a url" is not an http(s) or git URL',
        None,
    ),
    ("project", "repositoryUrl", "javascript:alert(1)", "repositoryUrl", None),
    ("project", "repositoryUrl", "ftp://example.com/repo", "repositoryUrl", None),
    ("project", "repositoryUrl", "https://", "repositoryUrl", None),
    ("project", "repositoryUrl", "https://x.test/a b", "repositoryUrl", None),
    (
        "project",
        "repositoryUrl",
        "https://me:s3cret@github.com/org/repo.git",
        "repositoryUrl must not hold a password or token",
        None,
    ),
    (
        "project",
        "repositoryUrl",
        "https://x.test/" + "a" * 2100,
        "repositoryUrl is too long (at most 2048 characters)",
        None,
    ),
    ("template", "cpuRequest", "lots", 'cpuRequest "lots" is not a Kubernetes quantity', None),
    (
        "template",
        "memoryRequest",
        "lots",
        'memoryRequest "lots" is not a Kubernetes quantity (for example 512Mi or 2Gi)',
        None,
    ),
    (
        "template",
        "storageRequest",
        "-1Gi",
        'storageRequest "-1Gi" is not a Kubernetes quantity',
        None,
    ),
    ("template", "cpuRequest", "1 core", "cpuRequest", None),
    ("template", "image", "Python:3", 'image "Python:3" is not an image reference', None),
    ("template", "image", "a b", "image", None),
    ("template", "image", "ünïcødé", "image", None),
    ("template", "runtimeClassName", "kata_qemu", "runtimeClassName must be a DNS subdomain", None),
    (
        "template",
        "exposedPorts",
        [{"name": "Web_UI", "port": 80}],
        'exposedPorts[0].name "Web_UI" is not a port name',
        "exposedPorts[0].name",
    ),
    (
        "template",
        "exposedPorts",
        [{"name": "8080", "port": 8080}],
        'exposedPorts[0].name "8080" is not a port name',
        "exposedPorts[0].name",
    ),
    (
        "template",
        "exposedPorts",
        [{"name": "web", "port": 80}, {"name": "much-too-long-name", "port": 81}],
        "exposedPorts[1].name",
        "exposedPorts[1].name",
    ),
    (
        "template",
        "exposedPorts",
        [{"name": "web--ui", "port": 80}],
        "exposedPorts[0].name",
        "exposedPorts[0].name",
    ),
    (
        "template",
        "exposedPorts",
        [{"name": "-web", "port": 80}],
        "exposedPorts[0].name",
        "exposedPorts[0].name",
    ),
    (
        "template",
        "exposedPorts",
        [{"name": "web", "port": 80}, {"name": "web", "port": 81}],
        'port name "web" is declared more than once',
        "exposedPorts[1].name",
    ),
    (
        "project",
        "defaultNamespace",
        "kube-system",
        'defaultNamespace "kube-system" belongs to the Kubernetes cluster itself',
        None,
    ),
    ("project", "defaultNamespace", "default", 'defaultNamespace "default" belongs', None),
    ("sandbox", "namespace", "kube-flannel", 'namespace "kube-flannel" belongs', None),
    ("sandbox", "namespace", "n" * 64, "namespace", None),
    ("sandbox", "namespace", "Team-A", 'namespace "Team-A" is not a DNS label', None),
    ("sandbox", "serviceAccountName", "sa_1", 'serviceAccountName "sa_1" is not a DNS label', None),
]


@pytest.mark.parametrize(("resource", "field", "value", "message", "path"), RULES)
def test_a_create_breaking_a_rule_is_refused_at_its_field(
    client, world, row_counts, resource, field, value, message, path
):
    route, body = _creates(world)[resource]
    before = row_counts()
    response = client.post(route, json={**body, field: value})
    error = _refused(response, path or field, before, row_counts, message=message)
    if "example" in error or "is not" in error:
        assert "for example" in error  # a valid value to copy


@pytest.mark.parametrize(("resource", "field", "value", "message", "path"), RULES)
def test_an_update_breaking_a_rule_is_refused_and_changes_nothing(
    client, world, row_counts, resource, field, value, message, path
):
    where = world[f"{resource}Path"]
    stored = client.get(where).json()
    before = row_counts()
    response = client.patch(where, json={field: value})
    _refused(response, path or field, before, row_counts, message=message)
    assert client.get(where).json() == stored


@pytest.mark.parametrize(
    ("port", "field"),
    [
        ({"name": "HTTP", "port": 80}, "ports[0].name"),
        ({"name": "web", "port": 80, "previewUrl": "javascript:alert(1)"}, "ports[0].previewUrl"),
        ({"name": "web", "port": 80, "previewUrl": "//evil.example/"}, "ports[0].previewUrl"),
    ],
)
def test_sandbox_ports_have_port_names_and_web_links(client, world, row_counts, port, field):
    where = world["sandboxPath"]
    stored, before = client.get(where).json(), row_counts()
    response = client.patch(where, json={"ports": [port]})
    _refused(response, field, before, row_counts, message=field)
    assert client.get(where).json() == stored


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo.git",
        "http://git.internal:8080/team/repo",
        "git@github.com:org/repo.git",
        "ssh://git@git.example.com:2222/org/repo.git",
        "git://git.example.com/repo.git",
    ],
)
def test_http_and_git_repository_urls_are_kept(api, url):
    assert api.project(repositoryUrl=url)["repositoryUrl"] == url


def test_valid_values_pass_the_rules(api, client):
    template = api.template(
        image="ghcr.io/acme/app:1.2",
        cpuRequest="0.5",
        memoryRequest="1.5Gi",
        storageRequest="10G",
        exposedPorts=[{"name": "http-alt", "port": 8080}, {"name": "x2", "port": 9000}],
    )
    assert template["cpuRequest"] == "0.5" and template["exposedPorts"][0]["name"] == "http-alt"
    project = api.project(defaultNamespace="n" * 63)
    sandbox = api.sandbox(project, template, serviceAccountName="build-bot")
    assert (sandbox["namespace"], sandbox["serviceAccountName"]) == ("n" * 63, "build-bot")


def test_a_template_stored_before_the_rules_is_not_launched(api, client, database, row_counts):
    project, template = api.project(), api.template(name="Old")
    sandbox = api.sandbox(project, template)
    assert client.post(f"/v1/sandboxes/{sandbox['id']}/stop").status_code == 200
    with database.session() as db:  # as stored before the rules
        db.get(TemplateRow, uuid.UUID(template["id"])).memory_request = "lots"
        db.commit()
    before = row_counts()
    launch = {"projectId": project["id"], "templateId": template["id"], "name": "x"}
    for response in (
        client.post("/v1/sandboxes", json=launch),
        client.post(f"/v1/sandboxes/{sandbox['id']}/start"),
    ):
        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": 'template "old" must be edited before it can launch: memoryRequest "lots" '
            "is not a Kubernetes quantity (for example 512Mi or 2Gi)",
            "detail": {"field": "templateId"},
        }
    assert row_counts() == before
    fixed = client.patch(f"/v1/templates/{template['id']}", json={"memoryRequest": "512Mi"})
    assert fixed.status_code == 200
    assert client.post(f"/v1/sandboxes/{sandbox['id']}/start").status_code == 200


def test_the_builtin_templates_pass_the_rules(client):
    for template in client.get("/v1/templates").json()["items"]:
        kept = {
            field: template[field]
            for field in ("image", "cpuRequest", "memoryRequest", "storageRequest", "exposedPorts")
            if field in template
        }
        response = client.patch(f"/v1/templates/{template['id']}", json=kept)
        assert response.status_code == 200, (template["slug"], response.text)


# -- the contract's combined messages still name the field ---------------------------------


@pytest.mark.parametrize(
    ("resource", "change", "field", "reason"),
    [
        ("project", {"name": " "}, "name", "name is required"),
        ("project", {"name": "!!!"}, "name", "name needs a letter or digit"),
        ("project", {"slug": "Not Valid"}, "slug", "slug must be lower-case letters"),
        ("project", {"defaultNamespace": ""}, "defaultNamespace", "defaultNamespace is required"),
        ("template", {"image": " "}, "image", "image is required"),
        ("sandbox", {"projectId": None}, "projectId", "projectId is required"),
        ("sandbox", {"name": ""}, "name", "name is required"),
    ],
)
def test_combined_contract_messages_point_at_one_field(
    client, world, row_counts, resource, change, field, reason
):
    route, body = _creates(world)[resource]
    before = row_counts()
    response = client.post(route, json={**body, **change})
    error = _refused(response, field, before, row_counts)
    assert error.endswith("are required")  # the contract's words
    assert response.json()["detail"]["reason"].startswith(reason)


# -- bad strings in every create and update body ------------------------------------------

TEXT = {
    "5000 characters": LONG,
    "blank": "   ",
    "bell": "a\x07b",
    "line break": "a\nb",
    "NUL": "a\x00b",
}

# (method, path, a body it accepts, its text fields)
BODIES = [
    (
        "POST",
        "/v1/projects",
        {"name": "P", "defaultNamespace": "ns"},
        ["name", "defaultNamespace", "repositoryUrl"],
    ),
    ("PATCH", "{projectPath}", {}, ["name", "defaultNamespace"]),
    (
        "POST",
        "/v1/templates",
        {"name": "T", "image": "img"},
        ["name", "image", "cpuRequest", "workingDir"],
    ),
    ("PATCH", "{templatePath}", {}, ["name", "memoryRequest"]),
    (
        "POST",
        "/v1/sandboxes",
        {"projectId": "{project}", "templateId": "{template}", "name": "S"},
        ["name", "namespace"],
    ),
    ("PATCH", "{sandboxPath}", {}, ["name", "serviceAccountName"]),
]
BLANK_IS_DEFAULT = {"repositoryUrl", "cpuRequest", "memoryRequest", "workingDir"}
LAUNCH_DEFAULTS = {"namespace", "serviceAccountName"}
OTHER_BODIES = [
    (
        "POST",
        "/v1/sandboxes/{sandbox}/tasks",
        {"command": ["echo", "hi"]},
        ["cwd"],
    ),
    (
        "POST",
        "/v1/projects/{project}/credentials",
        {"name": "C", "type": "git", "secretRef": {"name": "s"}},
        ["name", "target"],
    ),
    ("PUT", "/v1/projects/{project}/policy", {"enforcement": "enforced"}, ["enforcement"]),
    (
        "PUT",
        "/v1/projects/{project}/quota-policy",
        {"enforcement": "enforced"},
        ["maxCpu"],
    ),
    ("POST", "/v1/tokens", {"name": "T"}, ["name", "principal"]),
]


def _body(world, base, field, value):
    body = {
        key: item.format(**world) if isinstance(item, str) else item for key, item in base.items()
    }
    return {**body, field: value}


def _cases(bodies):
    return [
        pytest.param(method, path, base, field, id=f"{method} {path} {field}")
        for method, path, base, fields in bodies
        for field in fields
    ]


@pytest.mark.parametrize(("method", "path", "base", "field"), _cases(BODIES))
def test_bad_text_is_refused_at_its_field(client, world, row_counts, method, path, base, field):
    defaulted = BLANK_IS_DEFAULT | (LAUNCH_DEFAULTS if method == "POST" else set())
    for kind, text in TEXT.items():
        if text.isspace() and field in defaulted:
            continue  # blank means none or the default here
        before = row_counts()
        body = _body(world, base, field, text)
        response = client.request(method, path.format(**world), json=body)
        assert response.status_code == 400, (kind, response.text)
        assert response.json()["error"] and response.json()["detail"]["field"] == field, kind
        assert row_counts() == before, kind


@pytest.mark.parametrize(("method", "path", "base", "field"), _cases(OTHER_BODIES))
def test_bad_text_elsewhere_is_never_a_server_error(
    client, world, row_counts, method, path, base, field
):
    for kind, text in TEXT.items():
        before = row_counts()
        body = _body(world, base, field, text)
        response = client.request(method, path.format(**world), json=body)
        assert response.status_code < 500, (kind, response.text)
        if response.status_code >= 400:
            assert isinstance(response.json()["error"], str) and response.json()["error"]
            assert row_counts() == before, kind
        if text in (LONG, TEXT["NUL"]):  # refused before any service: the body names the field
            assert response.status_code == 400, (kind, response.text)
            assert response.json()["detail"]["field"] == field, kind


@pytest.mark.parametrize("resource", ["project", "template", "sandbox"])
def test_unicode_names_are_kept_as_given(client, world, resource):
    route, body = _creates(world)[resource]
    name = "Ünïcødé 名前 🚀 Ω"
    created = client.post(route, json={**body, "name": name, "slug": "unicode"})
    assert created.status_code == 201, created.text
    where = f"{route}/{created.json()['id']}"
    assert client.get(where).json()["name"] == name
    renamed = client.patch(where, json={"name": "ß " + name})
    assert renamed.status_code == 200 and client.get(where).json()["name"] == "ß " + name


# -- query and type errors -------------------------------------------------------------------


def test_a_query_parameter_error_is_in_words_with_its_field(client):
    response = client.get("/v1/runtime/resources", params={"kind": "k" * 100})
    assert response.status_code == 400
    assert response.json() == {
        "error": "kind is too long (at most 63 characters)",
        "detail": {"field": "kind"},
    }


def test_a_body_type_error_names_its_field(client, row_counts):
    before = row_counts()
    response = client.post(
        "/v1/templates",
        json={"name": "t", "image": "i", "exposedPorts": [{"name": "web", "port": "80"}]},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid JSON request body",
        "detail": {
            "reason": "exposedPorts[0].port must be a whole number",
            "field": "exposedPorts[0].port",
        },
    }
    assert row_counts() == before


def test_a_union_field_is_named_without_pydantic_steps(client, world):
    response = client.put(
        f"/v1/projects/{world['project']}/quota-policy",
        json={"enforcement": "enforced", "maxCpu": LONG},
    )
    assert response.status_code == 400
    assert response.json()["detail"]["field"] == "maxCpu"


# -- a refused project delete names the sandboxes in the way -----------------------------------


def test_a_refused_project_delete_counts_and_lists_the_sandboxes_in_the_way(
    client, api, row_counts
):
    project, template = api.project(), api.template()
    boxes = [api.sandbox(project, template) for _ in range(3)]
    gone = api.sandbox(project, template)
    assert client.delete(f"/v1/sandboxes/{gone['id']}").status_code == 204  # history only
    before = row_counts()
    refused = client.delete(f"/v1/projects/{project['id']}")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "project still has sandboxes (3 are active or deleted but awaiting runtime "
        "cleanup); delete them and wait for cleanup first",
        "detail": {"sandboxIds": [box["id"] for box in boxes], "count": 3},
    }
    assert row_counts() == before
    for box in boxes:
        assert client.delete(f"/v1/sandboxes/{box['id']}").status_code == 204
    assert client.delete(f"/v1/projects/{project['id']}").status_code == 204
    assert client.get(f"/v1/projects/{project['id']}").status_code == 404
    assert uuid.UUID(project["id"])
