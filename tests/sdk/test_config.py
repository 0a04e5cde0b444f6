"""Client configuration (arguments > environment > context), the contexts file, and the
reference's compatibility check on /v1/info documents."""

from __future__ import annotations

import json
import stat

import pytest

from mbox.compat import check_compatibility
from mbox.config import DEFAULT_API_URL, ClientConfig, ConfigError, Context, ContextStore


def write_contexts(path, **contexts) -> None:
    store = ContextStore.load(path, env={})
    for name, context in contexts.items():
        store.set(name, context)
    store.save()


def test_defaults_without_anything(tmp_path) -> None:
    config = ClientConfig.resolve(env={"MBOX_CONFIG": str(tmp_path / "none.json")})
    assert (config.api_url, config.token, config.context) == (DEFAULT_API_URL, "", "")


def test_environment_names_the_server_and_token(tmp_path) -> None:
    env = {
        "MBOX_CONFIG": str(tmp_path / "none.json"),
        "MBOX_API_URL": "http://mbox.example:8080/",
        "MBOX_API_TOKEN": "second",
        "MBOX_TOKEN": "first",
        "MBOX_REQUEST_ID": "req-1",
        "MBOX_AUDIT_ACTOR": "ci-bot",
        "MBOX_AUDIT_SOURCE": "ci",
    }
    config = ClientConfig.resolve(env=env)
    assert config.api_url == "http://mbox.example:8080"  # trailing slash normalised
    assert config.token == "first"  # MBOX_TOKEN before MBOX_API_TOKEN
    assert (config.request_id, config.audit_actor, config.audit_source) == (
        "req-1",
        "ci-bot",
        "ci",
    )
    del env["MBOX_TOKEN"]
    assert ClientConfig.resolve(env=env).token == "second"


def test_precedence_argument_over_environment_over_context(tmp_path) -> None:
    path = tmp_path / "config.json"
    write_contexts(
        path,
        dev=Context(api_url="http://dev:1", token_env="DEV_TOKEN", audit_actor="dev-actor"),
    )
    env = {"MBOX_CONFIG": str(path), "DEV_TOKEN": "from-context"}
    from_context = ClientConfig.resolve(env=env)
    assert (from_context.api_url, from_context.token, from_context.context) == (
        "http://dev:1",
        "from-context",
        "dev",
    )
    assert from_context.audit_actor == "dev-actor"
    env |= {"MBOX_API_URL": "http://env:2", "MBOX_TOKEN": "from-env"}
    from_env = ClientConfig.resolve(env=env)
    assert (from_env.api_url, from_env.token) == ("http://env:2", "from-env")
    explicit = ClientConfig.resolve(api_url="http://arg:3", token="from-arg", env=env)
    assert (explicit.api_url, explicit.token) == ("http://arg:3", "from-arg")


def test_a_named_context_must_exist(tmp_path) -> None:
    path = tmp_path / "config.json"
    write_contexts(path, dev=Context(api_url="http://dev:1"))
    with pytest.raises(ConfigError, match="no context named 'prod'"):
        ClientConfig.resolve(context="prod", env={"MBOX_CONFIG": str(path)})
    with pytest.raises(ConfigError, match="no context named 'prod'"):
        ClientConfig.resolve(env={"MBOX_CONFIG": str(path), "MBOX_CONTEXT": "prod"})


def test_contexts_file_is_private_and_holds_no_token_named_by_env(tmp_path) -> None:
    path = tmp_path / "home" / ".mbox" / "config.json"
    write_contexts(
        path,
        b=Context(api_url="http://b:1", token_env="B_TOKEN"),
        a=Context(api_url="http://a:1", token="literal"),
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    document = json.loads(path.read_text())
    assert document["currentContext"] == "b"  # the first one set becomes current
    assert document["contexts"]["b"] == {"apiUrl": "http://b:1", "tokenEnv": "B_TOKEN"}
    store = ContextStore.load(path, env={})
    listed = store.contexts["b"].redacted("b", True, {"B_TOKEN": "secret"})
    assert listed["hasToken"] is True and "secret" not in json.dumps(listed)
    store.remove("b")  # the current one: falls back to the alphabetically first left
    assert store.current == "a"


def test_a_broken_contexts_file_is_an_error_that_names_it(tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json"):
        ClientConfig.resolve(env={"MBOX_CONFIG": str(path)})


INFO = {
    "apiVersion": "v1alpha1",
    "capabilities": ["projects", "sandboxes"],
    "compatibility": {"minimumCliApiVersion": "v1alpha1", "minimumSdkApiVersion": "v1alpha1"},
}


@pytest.mark.parametrize(
    ("client_version", "server", "minimum", "ok"),
    [
        ("v1alpha1", "v1alpha1", "v1alpha1", True),
        ("v1alpha1", "v1alpha2", "v1alpha2", False),  # older than the minimum
        ("v1beta1", "v1beta1", "v1alpha2", True),
        ("v1", "v1", "v1beta1", True),
        ("v1", "v2alpha1", "v2alpha1", False),  # another major family
        ("dev", "v1alpha1", "v1alpha1", False),  # not a version label
    ],
)
def test_compatibility_matrix(client_version, server, minimum, ok) -> None:
    info = INFO | {
        "apiVersion": server,
        "compatibility": {"minimumCliApiVersion": minimum, "minimumSdkApiVersion": minimum},
    }
    result = check_compatibility(info, "sdk", client_version)
    assert result.ok is ok, result.message
    assert result.minimum_api_version == minimum


def test_compatibility_reports_missing_capabilities() -> None:
    result = check_compatibility(INFO, "cli", required_capabilities=["sandboxes", "gpus"])
    assert not result.ok
    assert result.missing_capabilities == ["gpus"]
    assert result.to_json()["client"] == "cli" and "gpus" in result.message
