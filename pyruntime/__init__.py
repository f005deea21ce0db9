"""pyruntime: an inference runtime for compressed neural networks (.pyrt files).

`import pyruntime` stays light: numpy and the native module only. Exporters and compression tools import
torch/onnx/numba themselves, when they are used.
"""
__version__ = "0.1.0"


def _check_native():
    """A source checkout has no native module: running Python next to it imports the folder, not the installed
    package. Say so in one sentence, with the ways out, instead of failing later on `_core`."""
    import importlib.util
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    if importlib.util.find_spec(__name__ + "._core") is not None:
        return
    if os.path.exists(os.path.join(os.path.dirname(here), "pyproject.toml")):
        raise ImportError(f"pyruntime was imported from the source checkout {here}, which has no native module "
                          f"(_core): run Python from another folder to use the installed package, or install the "
                          f"checkout in editable mode with `pip install -e .`")
    # An installed package without it: a pure-Python use (load(path, backend='python')) still works; the first
    # native call says what is missing.


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
