"""``python -m vision``: see :mod:`vision.cli`."""

import sys

from vision.cli import main

if __name__ == "__main__":
    sys.exit(main())
