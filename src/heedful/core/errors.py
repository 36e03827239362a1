"""Errors that services raise and views turn into clear 4xx answers."""


class ServiceError(Exception):
    """A request the service refuses; the message is safe to show to the user."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class PermissionDenied(ServiceError):
    status_code = 403
    code = "forbidden"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The state changed under the caller (e.g. someone else took the conversation)."""

    status_code = 409
    code = "conflict"
