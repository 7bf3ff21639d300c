"""``python -m classicseg`` is the ``classicseg`` command."""

import sys

from .cli import main

sys.exit(main())
