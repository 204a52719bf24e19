"""`python -m bots.telegram`: run the bot (long polling, or a webhook with BILIM_TELEGRAM_WEBHOOK_URL)."""

import sys

from bots.telegram.app import main

sys.exit(main())
