# Shared by scripts/run and scripts/test: the system packages they need, the project's
# virtualenv, its packages, and bun. Source it; it defines functions and changes nothing
# by itself.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
BUN_VERSION="1.4.5"
BUN_MINIMUM="1.4.4" # Reflex 0.10.1 refuses older bun

say() { printf 'mbox: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# What the local runtime runs on the host (backend/runtime): bwrap; setpriv, nsenter and
# prlimit (util-linux); libseccomp's Python binding for the syscall filter; slirp4netns for
# egress and libnftables (nftables) for its rules; mkfs.ext4 (e2fsprogs) for per-sandbox
# disks; skopeo (pulls OCI images) and umoci (unpacks them) for template images, mmdebstrap
# (with its own dependencies) for template builds from Debian packages; the static busybox
# that enters any image (a shell and setpriv where the image has none).
RUNTIME_PACKAGES=(bubblewrap util-linux python3-seccomp slirp4netns nftables e2fsprogs skopeo umoci mmdebstrap busybox-static)

# ensure_system_packages MODE PURPOSE PACKAGE...: install the Debian packages that are
# missing, with apt-get, when this user may (root, or sudo without a password), saying
# what it installs; otherwise stop with the one command to run. Nothing missing: no
# apt-get at all. MODE says what happens where there is no dpkg/apt-get (not Debian):
# `warn` says what is needed and goes on, `require` stops.
ensure_system_packages() {
  local mode="$1" purpose="$2" missing=() package status
  shift 2
  if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    [[ "$mode" == require ]] || { say "not Debian/Ubuntu: $purpose wants the equivalents of: $*"; return 0; }
    die "not Debian/Ubuntu: install the equivalents of $* (for $purpose), then run this again"
  fi
  for package in "$@"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)"
    [[ "${status:1:1}" == i ]] || missing+=("$package") # the second letter: installed
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      die "missing for $purpose: ${missing[*]}; run \`sudo apt-get install -y ${missing[*]}\`, then this again"
    fi
  fi
  local log updated="" apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
  log="$(mktemp "${TMPDIR:-/tmp}/mbox-apt.XXXXXX")"
  say "installing ${missing[*]} (for $purpose; log: $log)"
  # Package lists are fetched only when needed: there are none yet (a fresh image), or
  # the install failed on stale ones.
  if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    "${apt[@]}" update >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get update failed; see $log"; }
    updated=1
  fi
  until "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; do
    if [[ -n "$updated" ]] || ! "${apt[@]}" update >>"$log" 2>&1; then
      tail -n 20 "$log" >&2
      die "installing ${missing[*]} failed; see $log"
    fi
    updated=1
  done
  rm -f "$log"
}

ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "needs Python 3.11+"
    # Debian's own python3 makes virtualenvs only with python3-venv.
    if [[ "$(command -v python3)" == /usr/bin/python3 ]] && ! python3 -c 'import ensurepip' 2>/dev/null; then
      ensure_system_packages require "a virtualenv" python3-venv
    fi
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
