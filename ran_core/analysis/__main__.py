"""`python -m ran_core.analysis RESULTS_DIR`: figures and report.md for a results folder."""

import sys

from ran_core.analysis.report import main

sys.exit(main())
