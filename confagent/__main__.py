"""``python -m confagent``: the command line."""

import sys

from confagent.cli import main

sys.exit(main())
