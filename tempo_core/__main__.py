"""``python -m tempo_core`` is the ``tempo`` command."""

from tempo_core.commands.cli import entry

entry()
