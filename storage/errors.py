"""Refusals of the storage layer, as codes with data: handlers word them for people.

`code` is the catalog key of the sentence (locales/vi/LC_MESSAGES/tiendo.po, `storage.*`), `data` the
values it names (numbers, dates, names, codes). `handlers.i18n.refusal` turns one into Vietnamese; the
storage layer itself never words what a user reads.
"""


class StorageError(Exception):
    """A request that cannot be carried out, and why (`code`, `data`)."""

    def __init__(self, code: str, /, **data: object) -> None:
        super().__init__(code, data)
        self.code = code
        self.data = data

    def __str__(self) -> str:  # for logs and tracebacks; people see `handlers.i18n.refusal`'s wording
        return f"{self.code} {self.data}" if self.data else self.code


class NotFound(StorageError):
    pass


class InvalidInput(StorageError):
    pass
