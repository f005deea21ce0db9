"""The errors raised for bad files. The C++ reader's errors are translated to the same class."""


class FormatError(ValueError):
    """A .pyrt file (or buffer) is malformed, truncated, corrupted or needs features this reader lacks."""
