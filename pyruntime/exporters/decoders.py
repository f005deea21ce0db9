"""Hugging Face decoder families -> (GPTConfig, weights in export_gpt's naming), from a transformers model object
or from a local checkpoint folder (config.json + *.safetensors), without instantiating the model.

Families: Llama (incl. Llama 3 RoPE scaling), Mistral (sliding window), Qwen2 / Qwen2.5 (QKV bias, sliding
layers), Qwen3 (QK-norm), Phi-3 (fused qkv and gate_up), Gemma 2 (GeGLU, scaled embeddings, 1 + w norms,
sandwich norms, soft-capping, alternating sliding layers), GPT-NeoX / Pythia (parallel residual, partial
rotary) and GPT-2. Each family reads the same tensor names from both sources (`Source.get`), so a model
object and its `save_pretrained` folder give the same file.

A config key whose value would make a different model than the one built here is an ExportError naming the
key and the value (`_refuse`), never a silently different model.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from .ir import ExportError

_ACT = {"silu": "silu", "swish": "silu", "gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
        "gelu_fast": "gelu_tanh"}
FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "phi3", "gemma2", "gpt_neox", "gpt2")


class _Deferred:
    """What planning reads of a weight made later: its shape, size, ndim and (logical) dtype."""
    dtype = np.dtype(np.float32)

    def __init__(self, shape):
        self.shape = tuple(int(d) for d in shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


class Lazy(_Deferred):
    """An f32 tensor made when asked for (np.asarray), its shape known before: the exporter reads, encodes and
    writes one at a time (emit.to_graph(spool=True)), so its peak memory follows the largest tensor, not the
    model."""

    def __init__(self, shape, load):
        super().__init__(shape)
        self._load = load

    def __array__(self, dtype=None, copy=None):
        a = np.ascontiguousarray(self._load(), np.float32)
        if a.shape != self.shape:
            raise ExportError(f"a tensor read as {a.shape} was expected to be {self.shape}")
        return a if dtype is None else a.astype(dtype)

    def map(self, fn, shape=None) -> "Lazy":
        """fn applied when the tensor is made (a split, a transpose, 1 + w)."""
        return Lazy(self.shape if shape is None else shape, lambda: fn(np.asarray(self)))


class Encoded(_Deferred):
    """A tensor already in a file encoding (a converter's exact bytes: pyruntime/exporters/gguf.py), made when
    asked for (encoded()). The exporter writes it as it is: quantize= and the plan leave it alone."""

    def __init__(self, shape, make, encoding: str):
        super().__init__(shape)
        self._make, self.encoding = make, encoding

    def encoded(self):
        t = self._make()
        if tuple(t.shape) != self.shape:
            raise ExportError(f"a tensor encoded as {tuple(t.shape)} was expected to be {self.shape}")
        return t

    def __array__(self, dtype=None, copy=None):   # its values, decoded (numpy, exact): for checks and reports
        from ..format.reader import decode_encoded
        a = decode_encoded(self.encoded())
        return a if dtype is None else a.astype(dtype)


def concat(parts) -> "Lazy | Encoded | np.ndarray | None":
    """The rows of several tensors one after the other, made when asked for. Encoded parts join when they share
    an encoding and its params (their bytes one after the other); otherwise None: they stay apart."""
    if any(isinstance(p, Encoded) for p in parts):
        if not all(isinstance(p, Encoded) and p.encoding == parts[0].encoding for p in parts):
            return None
        from ..format.encode import concat_rows
        shape = (sum(p.shape[0] for p in parts),) + tuple(parts[0].shape[1:])

        def make():
            try:
                return concat_rows([p.encoded() for p in parts])
            except ValueError as e:
                raise ExportError(f"cannot join q, k and v: {e}") from e
        return Encoded(shape, make, parts[0].encoding)
    if not any(isinstance(p, Lazy) for p in parts):
        return np.concatenate(parts)
    shape = (sum(p.shape[0] for p in parts),) + tuple(parts[0].shape[1:])
    return Lazy(shape, lambda: np.concatenate([np.asarray(p) for p in parts]))


class Source:
    """A decoder's config (a plain dict, as config.json holds it) and its tensors by Hugging Face name."""

    def __init__(self, config: dict, names, get, where: str, shape_of=None):
        self.config, self.names, self._get, self.where = config, set(names), get, where
        self._shape_of = shape_of

    def has(self, name: str) -> bool:
        return name in self.names

    def get(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise ExportError(f"{self.where}: tensor '{name}' is missing")
        return self._get(name)

    def lazy(self, name: str) -> Lazy:
        """The tensor, read when the exporter writes it (its shape now, from the index or the header)."""
        if name not in self.names:
            raise ExportError(f"{self.where}: tensor '{name}' is missing")
        return Lazy(self._shape_of(name), lambda: self._get(name))

    def linear(self, w: dict, ours: str, theirs: str):
        """A Linear's weight [out, in] into w[ours + ".w"] (read when written), and its bias into w[ours + ".b"]
        when it has one."""
        w[ours + ".w"] = self.lazy(theirs + ".weight")
        if self.has(theirs + ".bias"):
            w[ours + ".b"] = self.get(theirs + ".bias")


def _np(t, copy: bool = True) -> np.ndarray:
    """f32 numpy of a torch tensor; copy=False when nothing else holds the tensor (one just read from disk)."""
    import torch
    t = t.detach().cpu()
    if t.dtype != torch.float32:
        return t.to(torch.float32).numpy()
    return t.numpy().copy() if copy else t.numpy()


def from_model(model) -> Source:
    """A transformers model object (…ForCausalLM or the bare …Model)."""
    cfg = model.config.to_dict()
    state = model.state_dict()
    return Source(cfg, state.keys(), lambda n: _np(state[n]), type(model).__name__, lambda n: state[n].shape)


def from_folder(path) -> Source:
    """A checkpoint folder as save_pretrained writes it: config.json and model.safetensors, or shards listed
    in model.safetensors.index.json. Tensors are read one at a time when asked for."""
    path = os.fspath(path)
    conf = os.path.join(path, "config.json")
    if not os.path.isfile(conf):
        raise ExportError(f"{path}: not a checkpoint folder (no config.json)")
    with open(conf) as f:
        cfg = json.load(f)
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(index):
        with open(index) as f:
            where = {n: os.path.join(path, s) for n, s in json.load(f)["weight_map"].items()}
    elif os.path.isfile(os.path.join(path, "model.safetensors")):
        where = None
    else:
        raise ExportError(f"{path}: no model.safetensors or model.safetensors.index.json (only safetensors "
                          f"checkpoints are read)")
    from safetensors import safe_open
    if where is None:
        one = os.path.join(path, "model.safetensors")
        with safe_open(one, framework="pt") as f:
            where = {n: one for n in f.keys()}

    def get(name):
        with safe_open(where[name], framework="pt") as f:
            return _np(f.get_tensor(name), copy=False)

    def shape_of(name):
        with safe_open(where[name], framework="pt") as f:
            return f.get_slice(name).get_shape()
    return Source(cfg, where.keys(), get, path, shape_of)


# --- config ----------------------------------------------------------------------------------------------------

def _refuse(src: Source, key: str, why: str):
    raise ExportError(f"{src.where}: config {key}={src.config.get(key)!r} is not supported: {why}")


def _rope(src: Source, head_dim: int) -> tuple[int, float, tuple]:
    """(rotary_dim, base, inv_freq) as transformers computes them for the rope types whose frequencies do not
    depend on the sequence length: default, linear and llama3."""
    import torch
    c = src.config
    rp = c.get("rope_parameters") or {}
    if not rp:   # configs written before transformers 5: rope_theta and rope_scaling at the top level
        rp = dict(c.get("rope_scaling") or {})
        rp["rope_theta"] = c.get("rope_theta", c.get("rotary_emb_base", 10000.0))
        if "partial_rotary_factor" in c or "rotary_pct" in c:
            rp["partial_rotary_factor"] = c.get("partial_rotary_factor", c.get("rotary_pct"))
    kind = rp.get("rope_type", rp.get("type", "default"))
    if kind not in ("default", "linear", "llama3"):
        raise ExportError(f"{src.where}: config rope_parameters.rope_type={kind!r} is not supported (default, "
                          f"linear and llama3 are: their frequencies do not change with the sequence length)")
    base = float(rp.get("rope_theta", 10000.0))
    factor = rp.get("partial_rotary_factor", c.get("partial_rotary_factor")) or 1.0
    dim = int(head_dim * factor)
    if dim % 2 or dim <= 0:
        raise ExportError(f"{src.where}: rotary dims {dim} (head_dim {head_dim} x partial_rotary_factor {factor}) "
                          f"must be even and positive")
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim))
    if kind == "linear":
        inv = inv / rp["factor"]
    elif kind == "llama3":
        f, lo, hi = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"]
        old = rp["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > lo_wl, inv / f, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / f + smooth * scaled
        inv = torch.where(~(wl < hi_wl) * ~(wl > lo_wl), smoothed, scaled)
    return dim, base, tuple(float(x) for x in inv.to(torch.float32).numpy())


def _windows(src: Source, n_layer: int) -> tuple:
    c = src.config
    w = c.get("sliding_window")
    types = c.get("layer_types")
    mt = c.get("model_type")
    if types is None:
        if mt == "qwen2" or mt == "qwen3":
            first = c.get("max_window_layers", n_layer)
            types = ["sliding_attention" if c.get("use_sliding_window") and i >= first else "full_attention"
                     for i in range(n_layer)]
        elif mt == "gemma2":
            types = ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(n_layer)]
        else:   # Mistral, Phi-3: every layer slides when the config has a window
            types = ["sliding_attention" if w else "full_attention"] * n_layer
    if len(types) != n_layer:
        _refuse(src, "layer_types", f"{len(types)} entries for {n_layer} layers")
    bad = sorted(set(types) - {"full_attention", "sliding_attention"})
    if bad:
        _refuse(src, "layer_types", f"attention type {bad[0]!r} (full_attention and sliding_attention are)")
    if "sliding_attention" in types and not (isinstance(w, int) and w > 0):
        _refuse(src, "sliding_window", "sliding layers need a positive window")
    return tuple(int(w) if t == "sliding_attention" else 0 for t in types)


_MUST_BE_OFF = ("use_bidirectional_attention", "is_encoder_decoder", "add_cross_attention", "use_qk_norm_bias")


def _common_checks(src: Source):
    c = src.config
    if c.get("quantization_config"):
        _refuse(src, "quantization_config", "pre-quantized checkpoints are not read yet; give the float checkpoint "
                "and quantize= at export")
    for k in ("num_local_experts", "num_experts", "n_routed_experts"):
        if c.get(k):
            _refuse(src, k, "mixture-of-experts layers are not built")
    for k in _MUST_BE_OFF:
        if c.get(k):
            _refuse(src, k, "this model is built as a causal decoder without it")
    if c.get("pretraining_tp", 1) not in (1, None):
        _refuse(src, "pretraining_tp", "only 1 (sliced projections are not built)")


def _act(src: Source, key: str) -> str:
    a = src.config.get(key)
    if a not in _ACT:
        _refuse(src, key, f"activations {sorted(_ACT)} are")
    return _ACT[a]


def _prefix(src: Source, probe: str, options) -> str:
    for p in options:
        if src.has(p + probe):
            return p
    raise ExportError(f"{src.where}: no tensor '{probe}' under any of the prefixes {list(options)}")


# --- families ----------------------------------------------------------------------------------------------------

def _llama_like(src: Source):
    """Llama, Mistral, Qwen2, Qwen3, Phi-3, Gemma 2: RMSNorm, rotary, gated MLP, optional GQA."""
    from .gpt import GPTConfig
    c, mt = src.config, src.config["model_type"]
    _common_checks(src)
    n_layer, d, heads = c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"]
    kv = c.get("num_key_value_heads") or heads
    hd = c.get("head_dim") or d // heads
    gemma = mt == "gemma2"
    rot, base, inv = _rope(src, hd)
    act = _act(src, "hidden_activation" if gemma and c.get("hidden_activation") else "hidden_act")
    tied = bool(c.get("tie_word_embeddings", gemma))
    cfg = GPTConfig(vocab_size=c["vocab_size"], n_layer=n_layer, n_head=heads, n_embd=d, n_kv_head=kv, head_dim=hd,
                    block_size=int(c.get("max_position_embeddings") or 4096),
                    pos="rotary", rotary_dim=rot, rotary_base=base, rotary_inv_freq=inv, norm="rmsnorm",
                    act=act, mlp="gated", eps=float(c.get("rms_norm_eps", 1e-6)), tied=tied,
                    windows=_windows(src, n_layer), qk_norm=mt == "qwen3")
    if gemma:
        cfg.embed_scale = float(d) ** 0.5
        cfg.attn_scale = float(c["query_pre_attn_scalar"]) ** -0.5
        cfg.attn_softcap = float(c.get("attn_logit_softcapping") or 0.0)
        cfg.logit_softcap = float(c.get("final_logit_softcapping") or 0.0)
        cfg.sandwich = True
    P = _prefix(src, "embed_tokens.weight", ("model.", ""))
    # Gemma's RMSNorm scales by (1 + w), in f32: folded into the weight once
    norm = (lambda n: src.get(n) + np.float32(1.0)) if gemma else src.get
    w = {"wte": src.lazy(P + "embed_tokens.weight"), "ln_f.w": norm(P + "norm.weight")}
    for i in range(n_layer):
        L, p = f"{P}layers.{i}.", f"h{i}."
        w[p + "ln1.w"] = norm(L + "input_layernorm.weight")
        if gemma:
            w[p + "ln1_post.w"] = norm(L + "post_attention_layernorm.weight")
            w[p + "ln2.w"] = norm(L + "pre_feedforward_layernorm.weight")
            w[p + "ln2_post.w"] = norm(L + "post_feedforward_layernorm.weight")
        else:
            w[p + "ln2.w"] = norm(L + "post_attention_layernorm.weight")
        A = L + "self_attn."
        if mt == "phi3":   # fused [q; k; v] rows: already the packed projection
            w[p + "qkv.w"] = src.lazy(A + "qkv_proj.weight")
        else:
            for nm in "qkv":
                src.linear(w, p + nm, A + nm + "_proj")
        src.linear(w, p + "proj", A + "o_proj")
        if cfg.qk_norm:
            w[p + "q_norm.w"], w[p + "k_norm.w"] = src.get(A + "q_norm.weight"), src.get(A + "k_norm.weight")
        M = L + "mlp."
        if mt == "phi3":   # fused [gate; up] rows
            both = src.lazy(M + "gate_up_proj.weight")
            half = (both.shape[0] // 2, both.shape[1])
            w[p + "gate.w"] = both.map(lambda a: a[:half[0]], half)
            w[p + "up.w"] = both.map(lambda a: a[half[0]:], half)
        else:
            for nm in ("gate", "up"):
                src.linear(w, p + nm, M + nm + "_proj")
        src.linear(w, p + "fc_out", M + "down_proj")
    if not tied:
        w["lm_head"] = src.lazy("lm_head.weight")
    return cfg, w


def _gpt_neox(src: Source):
    from .gpt import GPTConfig
    c = src.config
    _common_checks(src)
    n_layer, d, heads = c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"]
    hd = d // heads
    rot, base, inv = _rope(src, hd)
    cfg = GPTConfig(vocab_size=c["vocab_size"], n_layer=n_layer, n_head=heads, n_embd=d, head_dim=hd,
                    block_size=int(c.get("max_position_embeddings") or 2048),
                    pos="rotary", rotary_dim=rot, rotary_base=base, rotary_inv_freq=inv, norm="layernorm",
                    act=_act(src, "hidden_act"), eps=float(c.get("layer_norm_eps", 1e-5)),
                    tied=bool(c.get("tie_word_embeddings", False)), parallel=bool(c.get("use_parallel_residual", True)))
    P = _prefix(src, "embed_in.weight", ("gpt_neox.", ""))
    w = {"wte": src.lazy(P + "embed_in.weight"),
         "ln_f.w": src.get(P + "final_layer_norm.weight"), "ln_f.b": src.get(P + "final_layer_norm.bias")}
    for i in range(n_layer):
        L, p = f"{P}layers.{i}.", f"h{i}."
        for ours, theirs in (("ln1", "input_layernorm"), ("ln2", "post_attention_layernorm")):
            w[p + ours + ".w"], w[p + ours + ".b"] = src.get(L + theirs + ".weight"), src.get(L + theirs + ".bias")
        # query_key_value rows are [head, (q, k, v), head_dim]: regrouped into q, k, v
        qkv = src.lazy(L + "attention.query_key_value.weight")
        w[p + "qkv.w"] = qkv.map(lambda a: a.reshape(heads, 3, hd, d).transpose(1, 0, 2, 3).reshape(3 * heads * hd, d))
        if src.has(L + "attention.query_key_value.bias"):
            b = src.get(L + "attention.query_key_value.bias").reshape(heads, 3, hd)
            w[p + "qkv.b"] = np.ascontiguousarray(b.transpose(1, 0, 2).reshape(-1))
        for ours, theirs in (("proj", "attention.dense"), ("fc", "mlp.dense_h_to_4h"), ("fc_out", "mlp.dense_4h_to_h")):
            src.linear(w, p + ours, L + theirs)
    if not cfg.tied:   # transformers 5 names the head lm_head; earlier checkpoints embed_out
        w["lm_head"] = src.lazy("embed_out.weight" if src.has("embed_out.weight") else "lm_head.weight")
    return cfg, w


def _gpt2(src: Source):
    from .gpt import GPTConfig
    c = src.config
    _common_checks(src)
    act = _act(src, "activation_function")
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"):
        if c.get(flag):
            _refuse(src, flag, "GPT-2 is built with it off")
    if not c.get("scale_attn_weights", True):
        _refuse(src, "scale_attn_weights", "GPT-2 is built with scaled attention")
    cfg = GPTConfig(vocab_size=c["vocab_size"], n_layer=c["n_layer"], n_head=c["n_head"], n_embd=c["n_embd"],
                    block_size=c["n_positions"], act=act, eps=c.get("layer_norm_epsilon", 1e-5),
                    tied=bool(c.get("tie_word_embeddings", True)))
    P = _prefix(src, "wte.weight", ("transformer.", ""))
    w = {"wte": src.lazy(P + "wte.weight"), "wpe": src.lazy(P + "wpe.weight"),
         "ln_f.w": src.get(P + "ln_f.weight"), "ln_f.b": src.get(P + "ln_f.bias")}
    for i in range(c["n_layer"]):
        L, p = f"{P}h.{i}.", f"h{i}."
        for ours, theirs in (("ln1", "ln_1"), ("ln2", "ln_2")):
            w[p + ours + ".w"], w[p + ours + ".b"] = src.get(L + theirs + ".weight"), src.get(L + theirs + ".bias")
        # Conv1D stores [in, out] (y = x W + b): transposed into Linear's [out, in]
        for ours, theirs in (("qkv", "attn.c_attn"), ("proj", "attn.c_proj"), ("fc", "mlp.c_fc"), ("fc_out", "mlp.c_proj")):
            conv = src.lazy(L + theirs + ".weight")
            w[p + ours + ".w"] = conv.map(lambda a: a.T, conv.shape[::-1])
            w[p + ours + ".b"] = src.get(L + theirs + ".bias")
    if not cfg.tied and src.has("lm_head.weight"):
        w["lm_head"] = src.lazy("lm_head.weight")
    cfg.tied = "lm_head" not in w
    return cfg, w


def read(src: Source):
    """(GPTConfig, weights) of a supported family."""
    mt = src.config.get("model_type")
    if mt in ("llama", "mistral", "qwen2", "qwen3", "phi3", "gemma2"):
        return _llama_like(src)
    if mt == "gpt_neox":
        return _gpt_neox(src)
    if mt == "gpt2":
        return _gpt2(src)
    raise ExportError(f"{src.where}: model_type {mt!r} is not a supported decoder family (supported: "
                      f"{', '.join(FAMILIES)})")


__all__ = ["FAMILIES", "Encoded", "Lazy", "Source", "concat", "from_model", "from_folder", "read"]
