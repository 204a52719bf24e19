"""The HTTP API and the staff web chat (FastAPI): the composition root for web clients."""
