"""`python -m mbox.cli`."""

from mbox.cli import main

main()
