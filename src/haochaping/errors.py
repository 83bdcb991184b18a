"""Domain errors: a stable code, a Chinese message for people, optional details, an HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal by the rules. The API maps it to ``{"code", "message", "details"}`` with a 4xx."""

    status_code = 422

    def __init__(
        self, code: str, message: str, *, details: Any = None, status_code: int | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details
        if status_code is not None:
            self.status_code = status_code

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class InvalidInput(DomainError):
    status_code = 422
