"""The value rules of backend.validation: what Kubernetes (and a browser link) accepts."""

from __future__ import annotations

import pytest

from backend.errors import InvalidInput
from backend.validation import (
    check_name,
    check_namespace,
    dns_label,
    image_reference,
    link_url,
    port_name,
    quantity,
    repository_url,
)


def _refused(rule, value, *args):
    with pytest.raises(InvalidInput) as refused:
        rule(value, *args)
    return refused.value


@pytest.mark.parametrize("value", ["team-a", "a", "0", "a" * 63, " ns "])
def test_dns_labels(value):
    assert dns_label(value, "namespace") == value.strip()


@pytest.mark.parametrize("value", ["", "Team", "team_a", "-a", "a-", "a.b", "a" * 64, "ü"])
def test_not_dns_labels(value):
    error = _refused(dns_label, value, "namespace")
    assert error.detail == {"field": "namespace"} and "(for example team-a)" in error.message


@pytest.mark.parametrize(
    "value", ["", "500m", "2", "0.5", "1Gi", "512Mi", "10G", "+1", ".5", "1e3", "5E-1", "1E"]
)
def test_quantities(value):
    assert quantity(value, "cpuRequest", "500m") == value


@pytest.mark.parametrize(
    "value", ["lots", "-1", "1 Gi", "1gb", "Gi", "1e3x", "1.2.3", "1e", "1e1000", "1e3Mi"]
)
def test_not_quantities(value):
    error = _refused(quantity, value, "memoryRequest", "512Mi or 2Gi")
    assert error.message == (
        f'memoryRequest "{value}" is not a Kubernetes quantity (for example 512Mi or 2Gi)'
    )


@pytest.mark.parametrize("value", ["web", "http-alt", "x2", "a1b2c3d4e5f6g7h", "8080a"])
def test_port_names(value):
    assert port_name(value, "exposedPorts[0].name") == value


@pytest.mark.parametrize(
    "value", ["8080", "Web", "web_ui", "-web", "web-", "web--ui", "a1b2c3d4e5f6g7h8", "we b"]
)
def test_not_port_names(value):
    error = _refused(port_name, value, "ports[2].name")
    assert error.detail == {"field": "ports[2].name"} and "for example web" in error.message


def test_a_missing_port_name_keeps_the_contract_message():
    error = _refused(port_name, " ", "exposedPorts[0].name")
    assert error.message == "port name is required"
    assert error.detail["field"] == "exposedPorts[0].name"


@pytest.mark.parametrize(
    "value",
    [
        "host",
        "python:3.12",
        "ghcr.io/acme/app:1.2",
        "localhost:5000/team/app",
        "127.0.0.1:34567/listed:1",
        "app@sha256:" + "a" * 64,
        "my_app__x:v1-rc.2",
    ],
)
def test_image_references(value):
    assert image_reference(value) == value


@pytest.mark.parametrize(
    "value", ["Python", "a b", "app:", "app:-x", "/abs/path", "x" * 600, "ünï", "a..b"]
)
def test_not_image_references(value):
    assert _refused(image_reference, value).detail == {"field": "image"}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "https://github.com/org/repo.git",
        "http://git.internal:8080/repo",
        "git://host/repo",
        "ssh://git@host:22/org/repo.git",
        "git@github.com:org/repo.git",
        "deploy@host:/srv/repo.git",
    ],
)
def test_repository_urls(value):
    assert repository_url(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "not a url",
        "javascript:alert(1)",
        "ftp://host/x",
        "https://",
        "file:///etc/passwd",
        "x@y://z",
        "https://host/a\tb",
        "https://host/\x1b[31m",
        "https://user:token@github.com/org/repo",
    ],
)
def test_not_repository_urls(value):
    assert _refused(repository_url, value).detail == {"field": "repositoryUrl"}


def test_a_url_with_a_password_is_not_echoed():
    error = _refused(repository_url, "https://user:s3cret@github.com/org/repo")
    assert "s3cret" not in error.message


@pytest.mark.parametrize("value", ["https://app.example/", "/v1/sandboxes/x/ports/80/proxy/"])
def test_link_urls(value):
    assert link_url(value, "previewUrl") == value


@pytest.mark.parametrize(
    "value", ["javascript:alert(1)", "data:text/html,x", "//evil.example", "/\\evil", "git://h/x"]
)
def test_not_link_urls(value):
    assert _refused(link_url, value, "previewUrl").detail == {"field": "previewUrl"}


@pytest.mark.parametrize("value", ["a\tb", "a\nb", "a\x1b[31mb", "a\x7fb"])
def test_names_are_one_line(value):
    error = _refused(check_name, value)
    assert error.message.startswith("name cannot contain control characters")


def test_names_keep_unicode_and_are_trimmed():
    assert check_name("  Ünïcødé 名前 🚀  ") == "Ünïcødé 名前 🚀"
    assert _refused(check_name, "x" * 201).message == "name is too long (at most 200 characters)"


@pytest.mark.parametrize("value", ["default", "kube-system", "kube-public", "kube-anything"])
def test_the_clusters_own_namespaces_are_refused(value):
    error = _refused(check_namespace, value, "defaultNamespace")
    assert "belongs to the Kubernetes cluster itself" in error.message


def test_a_service_account_may_be_named_default():
    assert dns_label("default", "serviceAccountName") == "default"
