"""``python -m s3ledger.cli``: the same as the ``s3ledger`` command."""

from s3ledger.cli.main import main

raise SystemExit(main())
