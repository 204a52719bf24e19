"""What the clients do, one use case each: ask in a conversation, list, upload and delete documents."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assistant.core.errors import BilimError
from assistant.core.models import Answer, DocumentAdded, Language, Question, StoredDocument
from assistant.core.pipeline import clean_question, make_question
from assistant.core.ports import Conversations, Library, Vector


class Answering(Protocol):
    """Answers one question given the conversation's earlier questions (the wired service)."""

    @property
    def max_question_chars(self) -> int: ...

    def answer(self, question: Question) -> Answer: ...

    def question_vector(self, question: Question) -> Vector: ...


@dataclass(frozen=True)
class Asked:
    """An answer, where it was recorded, and the answer as kept (what the clients are given)."""

    answer: Answer
    conversation_id: str
    answer_id: str
    kept: Mapping[str, Any]


@dataclass(frozen=True)
class AskInConversation:
    """Ask with the conversation's earlier questions as context, then record the answer in that conversation."""

    answering: Answering
    conversations: Conversations

    def check(self, question: str, language: Language | None, conversation_id: str | None, owner: str) -> list[str]:
        """Validate before any work (a 422 or an unknown conversation's 404 comes first); returns the history."""
        clean_question(question, self.answering.max_question_chars)
        return self.conversations.history(conversation_id, owner) if conversation_id else []

    def __call__(self, question: str, language: Language | None, conversation_id: str | None, owner: str) -> Asked:
        """Answer and record; raises the core's errors (invalid input, unknown conversation, store down)."""
        history = self.check(question, language, conversation_id, owner)
        asked = make_question(question, language, self.answering.max_question_chars, history)  # read once
        answer = self.answering.answer(asked)
        text = " ".join(question.split())
        # Kept with the answer so staff insights can group near-duplicate questions without embedding them again.
        vector = self.answering.question_vector(asked)
        recorded = self.conversations.record(conversation_id, owner, text, answer, vector)
        return Asked(
            answer=answer, conversation_id=recorded.conversation_id, answer_id=recorded.answer_id, kept=recorded.kept
        )


def list_documents(library: Library) -> list[StoredDocument]:
    """Every stored document, by id."""
    return sorted(library.documents().values(), key=lambda doc: doc.id)


@dataclass(frozen=True)
class Staged:
    """One received file: the client's name for it, where it waits (stored under that file's name), or why it
    could not be received."""

    name: str
    path: Path | None = None
    error: BilimError | None = None


@dataclass(frozen=True)
class Uploaded:
    """What an upload did: the files ingested (with their status) and the ones that failed."""

    ingested: list[DocumentAdded]
    failed: list[DocumentAdded]


def upload_documents(
    library: Library, staged: Sequence[Staged], exclusive: Callable[[], AbstractContextManager[object]]
) -> Uploaded:
    """Check every file, then ingest the readable ones under `exclusive` (the store's one writer at a time);
    when none is readable the first failure is raised (413, 415 or 422). Each is answerable once this returns."""
    readable: list[Path] = []
    failed: list[DocumentAdded] = []
    errors: list[BilimError] = []
    for item in staged:
        error = item.error
        if error is None and item.path is not None:
            try:
                library.check(item.path, item.path.name)
                readable.append(item.path)
                continue
            except BilimError as exc:
                error = exc
        if error is not None:
            errors.append(error)
            failed.append(DocumentAdded(id=item.name, status="failed", error=error.message))
    if not readable and errors:
        raise errors[0]
    ingested: list[DocumentAdded] = []
    with exclusive():
        for path in readable:
            added = library.add(path)
            (failed if added.status == "failed" else ingested).append(added)
    return Uploaded(ingested=ingested, failed=failed)


def delete_document(library: Library, document_id: str) -> int:
    """Remove one document (NotFound when unknown); returns how many chunks went with it."""
    return library.remove(document_id)
