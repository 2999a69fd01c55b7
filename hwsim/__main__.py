"""``python -m hwsim``: the same as the ``hwsim`` command."""

from hwsim.cli import console_main

console_main()
