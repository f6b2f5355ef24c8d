"""``python -m helhed.bench``: see :func:`helhed.bench.main`."""

import sys

from helhed.bench import main

sys.exit(main())
