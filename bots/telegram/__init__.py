"""The Telegram bot for applicants and students (python-telegram-bot 22), a thin client of the HTTP API."""
