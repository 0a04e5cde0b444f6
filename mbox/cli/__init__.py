"""The `mbox` command line (Typer): every command of the reference CLI and more.

`main` is the console script. Importing this package loads only typer and the command
tree; the SDK, httpx, rich and yaml load inside the commands that use them.
"""

from mbox.cli.app import app, main

__all__ = ["app", "main"]
