"""``python -m emglm``: see :mod:`emglm.cli`."""

from emglm.cli import main

raise SystemExit(main())
