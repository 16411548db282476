"""Domain errors that carry the HTTP status and a message saying what to fix."""


class LabelerError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(LabelerError):
    status_code = 400
    code = "invalid"


class UnknownClass(LabelerError):
    status_code = 400
    code = "unknown_class"


class NotAssigned(LabelerError):
    status_code = 403
    code = "not_assigned"


class ItemGone(LabelerError):
    status_code = 410
    code = "item_gone"


class Conflict(LabelerError):
    status_code = 409
    code = "conflict"


class ImportFailed(LabelerError):
    status_code = 400
    code = "import_failed"


class StorageFull(LabelerError):
    """The server's disk (or the database's) is full: nothing partial was kept or sent."""

    status_code = 507
    code = "disk_full"
