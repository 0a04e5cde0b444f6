"""Where the server is and who the client is: explicit arguments, then environment
variables, then the current context of `~/.mbox/config.json` (the reference CLI's file).

Contexts name servers: `{"currentContext": "dev", "contexts": {"dev": {"apiUrl": ...,
"tokenEnv": "MBOX_DEV_TOKEN", "auditActor": ..., "auditSource": ...}}}`. A context may
hold a token itself, but naming the environment variable that holds it (`tokenEnv`)
keeps secrets out of the file; either way the file is written 0600 in a 0700 directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_API_URL = "http://127.0.0.1:3000"
ENV_API_URL = "MBOX_API_URL"
ENV_TOKENS = ("MBOX_TOKEN", "MBOX_API_TOKEN")  # the first set wins
ENV_REQUEST_ID = "MBOX_REQUEST_ID"
ENV_AUDIT_ACTOR = "MBOX_AUDIT_ACTOR"
ENV_AUDIT_SOURCE = "MBOX_AUDIT_SOURCE"
ENV_CONTEXT = "MBOX_CONTEXT"
ENV_CONFIG = "MBOX_CONFIG"


class ConfigError(ValueError):
    """The configuration file or a context in it is unusable."""


@dataclass
class Context:
    api_url: str
    token: str = ""
    token_env: str = ""
    audit_actor: str = ""
    audit_source: str = ""

    def resolved_token(self, env: Mapping[str, str]) -> str:
        return self.token or (env.get(self.token_env, "") if self.token_env else "")

    def to_json(self) -> dict[str, str]:
        fields = {
            "apiUrl": self.api_url,
            "token": self.token,
            "tokenEnv": self.token_env,
            "auditActor": self.audit_actor,
            "auditSource": self.audit_source,
        }
        return {key: value for key, value in fields.items() if value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Context:
        return cls(
            api_url=str(data.get("apiUrl", "")),
            token=str(data.get("token", "")),
            token_env=str(data.get("tokenEnv", "")),
            audit_actor=str(data.get("auditActor", "")),
            audit_source=str(data.get("auditSource", "")),
        )

    def redacted(self, name: str, current: bool, env: Mapping[str, str]) -> dict[str, Any]:
        """For listing: never the token itself."""
        return {
            "name": name,
            "current": current,
            "apiUrl": self.api_url,
            "hasToken": bool(self.resolved_token(env)),
            "tokenEnv": self.token_env,
            "auditActor": self.audit_actor,
            "auditSource": self.audit_source,
        }


def config_path(explicit: str | os.PathLike | None = None, env: Mapping[str, str] = os.environ):
    if explicit:
        return Path(explicit).expanduser()
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    return Path.home() / ".mbox" / "config.json"


@dataclass
class ContextStore:
    """The contexts file: read it, change it, write it back atomically and privately."""

    path: Path
    current: str = ""
    contexts: dict[str, Context] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, env: Mapping[str, str] = os.environ):
        target = config_path(path, env)
        try:
            data = json.loads(target.read_text())
        except FileNotFoundError:
            return cls(target)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {target}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("contexts", {}), dict):
            raise ConfigError(f"{target} is not an mbox config file")
        contexts = {
            name: Context.from_json(value)
            for name, value in data.get("contexts", {}).items()
            if isinstance(value, dict)
        }
        return cls(target, str(data.get("currentContext", "")), contexts)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        document = {
            "currentContext": self.current,
            "contexts": {name: ctx.to_json() for name, ctx in sorted(self.contexts.items())},
        }
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".config-")
        try:
            with os.fdopen(handle, "w") as out:  # mkstemp files are 0600
                json.dump(document, out, indent=2)
                out.write("\n")
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def set(self, name: str, context: Context, *, make_current: bool = False) -> None:
        if not name.strip():
            raise ConfigError("a context needs a name")
        if not context.api_url:
            raise ConfigError("a context needs an API URL")
        self.contexts[name] = context
        if make_current or not self.current:
            self.current = name

    def use(self, name: str) -> None:
        self.get(name)
        self.current = name

    def remove(self, name: str) -> None:
        self.get(name)
        del self.contexts[name]
        if self.current == name:
            self.current = min(self.contexts) if self.contexts else ""

    def get(self, name: str) -> Context:
        try:
            return self.contexts[name]
        except KeyError:
            raise ConfigError(f"no context named {name!r} in {self.path}") from None


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs to reach the server and be attributed in its audit."""

    api_url: str = DEFAULT_API_URL
    token: str = ""
    request_id: str = ""
    audit_actor: str = ""
    audit_source: str = ""
    context: str = ""

    @classmethod
    def resolve(
        cls,
        *,
        api_url: str | None = None,
        token: str | None = None,
        context: str | None = None,
        config_file: str | os.PathLike | None = None,
        request_id: str | None = None,
        audit_actor: str | None = None,
        audit_source: str | None = None,
        env: Mapping[str, str] = os.environ,
    ) -> ClientConfig:
        """Explicit arguments win over environment variables, which win over the context
        (`context`, else $MBOX_CONTEXT, else the file's current one)."""
        store = ContextStore.load(config_file, env)
        name = context or env.get(ENV_CONTEXT, "") or store.current
        chosen = store.get(name) if name and (context or env.get(ENV_CONTEXT)) else None
        if chosen is None and name:
            chosen = store.contexts.get(name)
        chosen = chosen or Context(api_url="")
        env_token = next((env[name] for name in ENV_TOKENS if env.get(name)), "")
        return cls(
            api_url=(api_url or env.get(ENV_API_URL) or chosen.api_url or DEFAULT_API_URL)
            .strip()
            .rstrip("/"),
            token=(token if token is not None else env_token or chosen.resolved_token(env)),
            request_id=request_id or env.get(ENV_REQUEST_ID, ""),
            audit_actor=audit_actor or env.get(ENV_AUDIT_ACTOR, "") or chosen.audit_actor,
            audit_source=audit_source or env.get(ENV_AUDIT_SOURCE, "") or chosen.audit_source,
            context=name if chosen.api_url else "",
        )
