"""pyruntime: an inference runtime for compressed neural networks (.pyrt files).

`import pyruntime` stays light: numpy and the native module only. Exporters and compression tools import
torch/onnx/numba themselves, when they are used.
"""
__version__ = "0.1.0"


def _check_native():
    """Python run next to a source checkout imports the folder, which has no native module. The pure-Python parts
    (format reader and writer) still work from there; the first native call raises ImportError with one sentence
    saying what happened and the ways out, instead of "cannot import name '_core'"."""
    import importlib.util
    import os
    import sys
    import types
    if importlib.util.find_spec(__name__ + "._core") is not None:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.exists(os.path.join(os.path.dirname(here), "pyproject.toml")):
        msg = (f"pyruntime was imported from the source checkout {here}, which has no native module (_core): run "
               f"Python from another folder to use the installed package, or install the checkout in editable mode "
               f"with `pip install -e .`")
    else:
        msg = (f"pyruntime's native module (_core) is missing from {here}: reinstall the package "
               f"(`pip install .` from its source)")

    class _MissingNative(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):   # introspection (inspect, pickle, pytest) asks for dunders: just absent
                raise AttributeError(name)
            raise ImportError(msg)

    sys.modules[__name__ + "._core"] = missing = _MissingNative(__name__ + "._core")
    setattr(sys.modules[__name__], "_core", missing)


_check_native()

from .format.errors import FormatError, LimitError  # noqa: E402
from .graph import Graph  # noqa: E402
from .model import Model, load  # noqa: E402
from .session import Session, supported_ops  # noqa: E402
from .generate import Generator, Recurrent  # noqa: E402
from .images import save_png_grid  # noqa: E402
from .prepack import prepack  # noqa: E402
from .tokenizer import TextTokenizer  # noqa: E402  (imports `tokenizers` only when a tokenizer is made)



def __getattr__(name):
    # The exporters (pyruntime.exporters) import torch/onnx; load them only when asked for.
    if name in ("export", "export_onnx", "ExportError"):
        import importlib
        return getattr(importlib.import_module(".exporters", __name__), name)
    raise AttributeError(f"module 'pyruntime' has no attribute {name!r}")


__all__ = ["__version__", "FormatError", "LimitError", "Graph", "Model", "Session", "Generator", "Recurrent", "load",
           "supported_ops", "export", "export_onnx", "save_png_grid", "prepack", "TextTokenizer"]
