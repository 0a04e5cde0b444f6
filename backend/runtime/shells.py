"""The shell a terminal starts: the sandbox user's login shell, chosen inside the sandbox.

Which shells exist, and which one the user has, is known only inside the sandbox (an
image's /etc/passwd, its /bin): so a small POSIX script, run by the sandbox's /bin/sh,
picks it there and execs it as a login shell. It uses shell builtins alone (an image may
have no `id`, no `getent`) and runs as the sandbox user, so whatever it starts is the
sandbox's own program with the sandbox's rights, on either runtime (a local process or a
Kubernetes exec)."""

from __future__ import annotations

DEFAULT_SHELL = "/bin/sh"
# The user's shell from /etc/passwd if it is an executable absolute path (not nologin or
# false), else bash if present, else sh; started with -l (bash, zsh, dash, ash and fish
# all take it) with TERM, HOME, USER, LANG and SHELL set. The runtime's own HOME and USER
# stay when they are usable; /etc/passwd fills them in otherwise.
LOGIN_SCRIPT = r"""
uid= user= home= shell=
while read -r key value _; do
  if [ "$key" = "Uid:" ]; then uid=$value; break; fi
done < /proc/self/status
if [ -n "$uid" ] && [ -r /etc/passwd ]; then
  while IFS=: read -r name _ id _ _ dir login; do
    if [ "$id" = "$uid" ]; then user=$name home=$dir shell=$login; break; fi
  done < /etc/passwd
fi
case $shell in
  */nologin|*/false|"") shell= ;;
  /*) [ -f "$shell" ] && [ -x "$shell" ] || shell= ;;
  *) shell= ;;
esac
if [ -z "$shell" ]; then
  for candidate in /bin/bash /usr/bin/bash /usr/local/bin/bash; do
    if [ -x "$candidate" ]; then shell=$candidate; break; fi
  done
fi
[ -n "$shell" ] || shell=/bin/sh
if [ -z "$HOME" ] || [ ! -d "$HOME" ]; then
  if [ -n "$home" ] && [ -d "$home" ]; then HOME=$home; else HOME=$PWD; fi
fi
[ -n "$USER" ] || USER=${user:-$uid}
[ -n "$LANG" ] || LANG=C.UTF-8
TERM=xterm-256color SHELL=$shell
export HOME USER LANG TERM SHELL
exec "$shell" -l
"""


def login_shell_argv(sh: str = DEFAULT_SHELL) -> list[str]:
    """The command that starts the sandbox user's login shell, through `sh`."""
    return [sh, "-c", LOGIN_SCRIPT, "mbox-login"]
