"""
pyruntime native core: .pyrt reader (zero-copy) and kernels
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['Model', 'Sampler', 'Session', 'abi_version', 'cpu_features', 'crc32c', 'encodings', 'force_reference', 'isa', 'kernel_tables', 'random_input', 'read_bandwidth', 'sparse_kernel', 'supported_ops']
class Model:
    @staticmethod
    def from_buffer(data: typing.Any, verify: str = 'lazy', max_file_bytes: typing.SupportsInt | typing.SupportsIndex = 0, max_tensors: typing.SupportsInt | typing.SupportsIndex = 0, max_nodes: typing.SupportsInt | typing.SupportsIndex = 0) -> Model:
        """
        Opens a model from bytes (copied).
        """
    def __init__(self, path: str, verify: str = 'lazy', max_file_bytes: typing.SupportsInt | typing.SupportsIndex = 0, max_tensors: typing.SupportsInt | typing.SupportsIndex = 0, max_nodes: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        ...
    def decode(self, name: str) -> numpy.ndarray:
        ...
    def graph(self) -> typing.Any:
        ...
    def info(self) -> dict:
        ...
    def packed_forms(self, tables: collections.abc.Sequence[str]) -> list:
        """
        The packed forms sessions with these kernel tables make when they are created, as a file would store them pre-packed (SPEC 6.6): (tensor index, layout param, key, bytes), one per tensor and param.
        """
    def verify(self) -> None:
        ...
    def view(self, name: str, buffer: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.ndarray:
        ...
    @property
    def file_size(self) -> int:
        ...
    @property
    def mapped(self) -> bool:
        ...
    @property
    def packed_use(self) -> dict:
        ...
class Session:
    def __init__(self, model: Model, num_threads: typing.SupportsInt | typing.SupportsIndex = 0, force_reference: bool = False, profile: bool = False, max_arena_bytes: typing.SupportsInt | typing.SupportsIndex = 0, kernels: str = '', decode_weights: bool = False) -> None:
        ...
    def describe(self) -> list:
        ...
    def plan(self, arg0: collections.abc.Sequence[collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]]) -> list:
        ...
    def reset_state(self) -> None:
        ...
    def run(self, arg0: list) -> list:
        ...
    @property
    def arena_bytes(self) -> int:
        ...
    @property
    def context_length(self) -> int:
        ...
    @property
    def inputs(self) -> list:
        ...
    @property
    def isa(self) -> str:
        ...
    @property
    def max_context(self) -> int:
        ...
    @property
    def outputs(self) -> list:
        ...
    @property
    def prepared_bytes(self) -> int:
        ...
    @property
    def state_bytes(self) -> int:
        ...
    @property
    def threads(self) -> int:
        ...
class Sampler:
    """
    Picks one token per row of logits; its generator advances with each pick.
    """
    def __init__(self, temperature: typing.SupportsFloat | typing.SupportsIndex = 0.0, top_k: typing.SupportsInt | typing.SupportsIndex = 0, top_p: typing.SupportsFloat | typing.SupportsIndex = 1.0, seed: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        """
        temperature 0: greedy; top_k 0 and top_p 1: off (core/generate.h).
        """
    def sample(self, logits: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.int64]:
        ...
def cpu_features() -> dict:
    ...
def crc32c(data: typing.Any) -> int:
    """
    CRC-32C of a contiguous buffer (SPEC §3.2).
    """
def encodings() -> list:
    """
    The encodings this reader knows: id, name, in-place kernels, row reads.
    """
def force_reference(on: bool) -> None:
    """
    Use the scalar reference kernels (as PYRT_KERNELS=ref does).
    """
def isa() -> str:
    """
    Name of the kernel table in use: a variant of kernel_tables() or 'ref' (PYRT_KERNELS=<name>|ref forces one).
    """
def kernel_tables() -> list[str]:
    """
    Every kernel-table variant compiled in that this CPU runs, best first (the reference 'ref' not listed).
    """
def random_input(model: Model, index: typing.SupportsInt | typing.SupportsIndex, shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], seed: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.ndarray:
    """
    Values for input `index` in `shape`, as pyrt_benchmark feeds them (pyrt_model_random_input).
    """
def read_bandwidth(mib: typing.SupportsInt | typing.SupportsIndex = 1024, threads: typing.SupportsInt | typing.SupportsIndex = 1, repeats: typing.SupportsInt | typing.SupportsIndex = 5) -> float:
    """
    Streaming read bandwidth in GB/s: the median of `repeats` passes over `mib` MiB with `threads` threads.
    """
def sparse_kernel(op: str, weight_shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], attrs: dict) -> typing.Any:
    """
    The sparse kernel a layer runs when its weight is stored csr: 'conv1x1', 'convkxk', 'linear', 'qconv', 'qlinear' (the cost model's kinds), or None (the weight is decoded at load).
    """
def supported_ops() -> list[str]:
    ...
__version__: str = '0.1.0'
abi_version: int = 1
