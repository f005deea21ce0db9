"""The errors raised for bad files. The C++ reader's errors are translated to the same class."""


class LimitError(ValueError):
    """A model asks for more than a cap allows (max_file_bytes, max_tensors, max_nodes, max_arena_bytes); the
    message names the cap. Raised before the memory is allocated."""


class FormatError(ValueError):
    """A .pyrt file (or buffer) is malformed, truncated, corrupted or needs features this reader lacks."""
