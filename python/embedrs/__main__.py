"""``python -m embedrs``: the same as the ``embedrs`` command."""

from embedrs.cli import main

raise SystemExit(main())
