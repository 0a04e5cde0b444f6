# Shared by scripts/run and scripts/test: the project's virtualenv, its packages, and bun.
# Source it; it defines functions and changes nothing by itself.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
BUN_VERSION="1.4.5"
BUN_MINIMUM="1.4.4" # Reflex 0.10.1 refuses older bun

say() { printf 'mbox: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "needs Python 3.11+"
    say "creating $VENV"
    python3 -m venv "$VENV"
  fi
}

# ensure_packages EXTRAS: `pip install -e .[EXTRAS]`, skipped when pyproject.toml has not
# changed since the last install with these extras (so second runs are fast).
ensure_packages() {
  local extras="$1" stamp="$VENV/.mbox-install-$1" hash
  hash="$(sha256sum <"$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [[ -x "$VENV/bin/mbox-server" && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    return
  fi
  say "installing mbox[$extras] (log: $VENV/mbox-install.log)"
  if ! "$VENV/bin/python" -m pip install -e "$ROOT[$extras]" >"$VENV/mbox-install.log" 2>&1; then
    tail -n 30 "$VENV/mbox-install.log" >&2
    die "installation failed; see $VENV/mbox-install.log"
  fi
  echo "$hash" >"$stamp"
}

version_at_least() { # version_at_least HAVE NEED
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

# Prefer a suitable bun on PATH; otherwise install a pinned one from the npm registry
# (Reflex's own bun download needs the open internet).
ensure_bun() {
  local dir="$VENV/bun"
  export PATH="$dir/node_modules/.bin:$PATH"
  if command -v bun >/dev/null && version_at_least "$(bun --version)" "$BUN_MINIMUM"; then
    return
  fi
  command -v npm >/dev/null || die "needs Node 20+ with npm (or bun >= $BUN_MINIMUM on PATH)"
  say "installing bun $BUN_VERSION from the npm registry"
  npm install --silent --no-audit --no-fund --prefix "$dir" "bun@$BUN_VERSION"
}

# Environment for Reflex: the venv first, system bun, no update checks, no telemetry.
reflex_env() {
  export PATH="$VENV/bin:$PATH"
  export REFLEX_USE_SYSTEM_BUN=1 REFLEX_CHECK_LATEST_VERSION=0 REFLEX_TELEMETRY_ENABLED=false
  # Pin the registry npm already uses: Reflex then skips probing for a faster mirror.
  if [[ -z "${NPM_CONFIG_REGISTRY:-}" ]] && command -v npm >/dev/null; then
    NPM_CONFIG_REGISTRY="$(npm config get registry)"
    export NPM_CONFIG_REGISTRY
  fi
}
