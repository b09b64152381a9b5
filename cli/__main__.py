"""`python -m cli`: the same as the installed `gridcast` command."""

import sys

from cli.main import main

sys.exit(main())
