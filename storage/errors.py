"""Errors the storage layer raises with a message fit to show a user (in Vietnamese)."""


class StorageError(Exception):
    """A request that cannot be carried out; the message says why, in Vietnamese."""


class NotFound(StorageError):
    pass


class InvalidInput(StorageError):
    pass
