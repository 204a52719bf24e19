"""One small error hierarchy for the whole service; each error carries its HTTP status."""

from __future__ import annotations


class BilimError(Exception):
    """Base of every error the service reports to a user."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(BilimError):
    """The request itself is wrong (empty question, bad option)."""

    status_code = 422
    code = "invalid_input"


class NotAQuestion(InvalidInput):
    """A message with no words at all (emoji, punctuation or invisible characters only)."""

    code = "not_a_question"


class NotFound(BilimError):
    """An unknown document or answer id."""

    status_code = 404
    code = "not_found"


class UnsupportedDocument(BilimError):
    """A file the loaders cannot read (wrong type, binary, no text layer, corrupt)."""

    status_code = 415
    code = "unsupported_document"


class PayloadTooLarge(BilimError):
    """An upload or question over the configured size limit."""

    status_code = 413
    code = "payload_too_large"


class StoreMismatch(BilimError):
    """The store was built with another embedder; it must be re-indexed."""

    status_code = 409
    code = "store_mismatch"


class StoreUnavailable(BilimError):
    """The vector store cannot be opened or reached."""

    status_code = 503
    code = "store_unavailable"


class RecordsUnavailable(BilimError):
    """The service's records (SQLite) are busy past their timeout, full or failing: retry later."""

    status_code = 503
    code = "records_unavailable"


class ConfigurationError(BilimError):
    """A setting names something that cannot be used (unknown embedder, missing model dir)."""

    status_code = 500
    code = "configuration_error"


class StoreBusy(BilimError):
    """Another process (or host) is writing to the same store."""

    status_code = 409
    code = "store_busy"


class WriterLeaseLost(StoreBusy):
    """This write's lease expired and another writer may hold it: the write stopped before its next batch."""

    code = "writer_lease_lost"


class AlreadyRunning(BilimError):
    """A run of this kind of work (a site sync) is already under way: it reports its progress where it runs."""

    status_code = 409
    code = "already_running"


class Busy(BilimError):
    """Every slot for this kind of work is taken past the wait allowed: retry shortly."""

    status_code = 503
    code = "busy"


class Unauthorized(BilimError):
    """No API key, or a key the service does not know."""

    status_code = 401
    code = "unauthorized"


class Forbidden(BilimError):
    """A valid key that may not do this (document management needs an admin key)."""

    status_code = 403
    code = "forbidden"


class RateLimited(BilimError):
    """Too many requests from one key / end user / address within the window."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
