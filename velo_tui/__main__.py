"""Allow `python -m velo_tui`."""

from velo_tui.cli import main

raise SystemExit(main())
