"""`python -m dgkernels ...` is the `dgkernels` command line."""
from .cli import main

raise SystemExit(main())
