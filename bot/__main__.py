"""`python -m bot` is the `tiendo` command."""

import sys

from bot.cli import main

sys.exit(main())
