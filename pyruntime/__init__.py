"""pyruntime: an inference runtime for compressed neural networks (.pyrt files).

`import pyruntime` stays light: numpy and the native module only. Exporters and compression tools import
torch/onnx/numba themselves, when they are used.
"""
__version__ = "0.1.0"

from .format.errors import FormatError  # noqa: E402
from .graph import Graph  # noqa: E402
from .model import Model, load  # noqa: E402
from .session import Session, supported_ops  # noqa: E402

__all__ = ["__version__", "FormatError", "Graph", "Model", "Session", "load", "supported_ops"]
