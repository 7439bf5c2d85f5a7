"""`python -m framework.cli`: the command line."""

import sys

from framework.cli import main

sys.exit(main())
