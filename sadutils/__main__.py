"""``python -m sadutils``: the same command line as ``sadutils``."""
import sys

from .cli import main

sys.exit(main())
