"""`python -m analytics_gateway` runs the command line."""

from analytics_gateway.cli import main

raise SystemExit(main())
