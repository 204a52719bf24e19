"""Alembic migrations of the service's records (applied by assistant.records.migrate at start-up)."""
