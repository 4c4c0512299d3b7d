"""Entry point for ``python -m localazure.arm``."""

import sys

from localazure.arm.cli import main

sys.exit(main())
