"""`python -m phasefold`: the command line."""

import sys

from phasefold.cli import main

sys.exit(main())
