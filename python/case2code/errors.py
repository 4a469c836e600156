"""The one exception type users see: a message naming the file, row or function."""


class C2CError(Exception):
    """Bad input or configuration, explained; the CLI prints it without a traceback."""
