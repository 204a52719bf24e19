"""Thin clients of the HTTP API (they never open the store)."""
