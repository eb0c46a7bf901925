import sys

from r2w_db.cli.main import main

sys.exit(main())
