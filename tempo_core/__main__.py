"""``python -m tempo_core`` is the ``tempo`` command."""

import sys

from tempo_core.commands.cli import main

sys.exit(main())
