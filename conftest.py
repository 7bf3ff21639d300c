"""Root pytest configuration: registers the executed-notebook capture (``tools/nbcapture.py``).

While nbval runs the lessons (``make test``), their outputs and each notebook's wall time and
kernel peak RSS are kept in ``build/executed/`` for ``make book``; see that module.
"""

import sys
from pathlib import Path

# `tools` is found next to this file whatever pytest's import mode (prepend adds it already).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

pytest_plugins = ["tools.nbcapture"]
