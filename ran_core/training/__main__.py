"""`python -m ran_core.training --help`: train one configuration (ran_core.training.cli)."""

import sys

from ran_core.training.cli import main

sys.exit(main())
