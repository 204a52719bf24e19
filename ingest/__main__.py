"""`python -m ingest`: the composition root's ingestion command (assistant.ingest_command) under its old name."""

import sys

from assistant.ingest_command import main

sys.exit(main())
