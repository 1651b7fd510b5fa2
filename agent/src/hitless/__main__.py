"""Allows `python -m hitless`."""
from hitless.cli.main import main

raise SystemExit(main())
