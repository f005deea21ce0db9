"""Decoder-only transformers (GPT-style) -> .pyrt with a KV cache, for pyruntime.Generator.

    from pyruntime.exporters.gpt import GPT, GPTConfig, export_gpt
    export_gpt(model, "gpt.pyrt", quantize="int4")          # model: GPT below, or transformers' GPT-2

Why not the ONNX trace the other exporters use: a traced decoder recomputes the whole sequence each step (or
carries past keys/values as graph inputs and concatenates them, copying the cache every token). Here the
graph is written from the weights, the way llama.cpp's converters map each architecture, with one
CausalAttention node per layer that keeps its keys and values in a cache inside the session: a step costs
one token of compute. The rest are the runtime's ordinary operators (Gather, LayerNormalization /
RMSNormalization, MatMul with transB and int4/int8 weights, Gelu/Silu, Add), so quantize= works as for any
export.

Supported: `GPT` (this module's reference model: learned or rotary positions, LayerNorm or RMSNorm, GELU
(exact or tanh) or SiLU MLP, tied or separate LM head); transformers' decoders of the families in
exporters/decoders.py (Llama, Mistral, Qwen2, Qwen3, Phi-3, Gemma 2, GPT-NeoX, GPT-2), as a model object or
as a local checkpoint folder (config.json + safetensors). Graph inputs: `input_ids` [B, T] i64 and, with
learned positions, `position_ids` [B, T] i64; output `logits` [B, 1, V] (the last token's: what decoding
needs) or [B, T, V] with logits="all".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .decoders import Encoded, Lazy, _np, concat
from .ir import IR, ExportError, Node

_ACTS = {"gelu": ("Gelu", {}), "gelu_tanh": ("Gelu", {"approximate": "tanh"}), "silu": ("Silu", {})}


@dataclass
class GPTConfig:
    vocab_size: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 512          # the longest context (the KV cache's capacity)
    mlp_ratio: int = 4
    pos: str = "learned"           # "learned" | "rotary"
    rotary_dim: int = 0            # rotary: dims of each head rotated (0: the whole head)
    rotary_base: float = 10000.0
    norm: str = "layernorm"        # "layernorm" | "rmsnorm"
    act: str = "gelu"              # "gelu" | "gelu_tanh" | "silu"
    bias: bool = True
    tied: bool = True              # LM head = token embedding
    eps: float = 1e-5
    # what the Hugging Face families add (exporters/decoders.py); the defaults are GPT-2's
    n_kv_head: int = 0             # key/value heads (0: n_head); fewer: grouped-query attention
    head_dim: int = 0              # 0: n_embd // n_head
    mlp: str = "plain"             # "plain": fc_out(act(fc(x))); "gated": fc_out(act(gate(x)) * up(x))
    parallel: bool = False         # x + attn(ln1(x)) + mlp(ln2(x)) (GPT-NeoX)
    qk_norm: bool = False          # RMSNorm over each query and key head before rotary (Qwen3)
    sandwich: bool = False         # norms after attention and after the MLP too (Gemma 2)
    windows: tuple = ()            # per layer: sliding window in tokens (0: the whole context)
    attn_softcap: float = 0.0      # scores -> c tanh(scores / c) (Gemma 2)
    logit_softcap: float = 0.0     # logits -> c tanh(logits / c) (Gemma 2)
    embed_scale: float = 0.0       # embeddings times this (0: not scaled; Gemma: sqrt(n_embd))
    attn_scale: float = 0.0        # 0: 1 / sqrt(head_dim)
    rotary_inv_freq: tuple = ()    # the rotary frequencies themselves (scaled RoPE); (): from rotary_base

    @property
    def hd(self) -> int:
        return self.head_dim or self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head or self.n_head

    def check(self):
        if self.pos not in ("learned", "rotary"):
            raise ExportError(f"pos must be 'learned' or 'rotary', got {self.pos!r}")
        if self.norm not in ("layernorm", "rmsnorm"):
            raise ExportError(f"norm must be 'layernorm' or 'rmsnorm', got {self.norm!r}")
        if self.act not in _ACTS:
            raise ExportError(f"act must be one of {sorted(_ACTS)}, got {self.act!r}")
        if self.mlp not in ("plain", "gated"):
            raise ExportError(f"mlp must be 'plain' or 'gated', got {self.mlp!r}")
        if not self.head_dim and self.n_embd % self.n_head:
            raise ExportError(f"n_embd {self.n_embd} does not split into {self.n_head} heads")
        if self.n_head % self.kv_heads:
            raise ExportError(f"{self.kv_heads} key/value heads do not divide {self.n_head} query heads")
        if self.windows and len(self.windows) != self.n_layer:
            raise ExportError(f"windows needs one entry per layer ({self.n_layer}), got {len(self.windows)}")
        hd = self.hd
        rot = self.rotary_dim or hd
        if self.pos == "rotary" and (rot % 2 or rot > hd):
            raise ExportError(f"rotary_dim must be even and at most the head size {hd}, got {rot}")


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _norm(cfg):
    return nn.LayerNorm(cfg.n_embd, eps=cfg.eps, bias=cfg.bias) if cfg.norm == "layernorm" \
        else RMSNorm(cfg.n_embd, cfg.eps)


def _rotate(x, pos, rot, base):
    """The first `rot` dims of each head rotated to its position, pairs (i, i + rot/2) (GPT-NeoX, Llama)."""
    inv = 1.0 / (base ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
    ang = pos.to(torch.float32)[:, None] * inv[None, :]
    c, s = ang.cos(), ang.sin()
    x1, x2, rest = x[..., :rot // 2], x[..., rot // 2:rot], x[..., rot:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s, rest], dim=-1)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.n_embd
        self.cfg = cfg
        self.ln1, self.ln2 = _norm(cfg), _norm(cfg)
        self.qkv = nn.Linear(d, 3 * d, bias=cfg.bias)
        self.proj = nn.Linear(d, d, bias=cfg.bias)
        self.fc = nn.Linear(d, cfg.mlp_ratio * d, bias=cfg.bias)
        self.fc_out = nn.Linear(cfg.mlp_ratio * d, d, bias=cfg.bias)

    def forward(self, x):
        cfg = self.cfg
        b, t, d = x.shape
        hd = d // cfg.n_head
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, cfg.n_head, hd).transpose(1, 2) for z in (q, k, v))
        if cfg.pos == "rotary":
            pos = torch.arange(t)
            rot = cfg.rotary_dim or hd
            q, k = _rotate(q, pos, rot, cfg.rotary_base), _rotate(k, pos, rot, cfg.rotary_base)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        act = {"gelu": F.gelu, "silu": F.silu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh")}[cfg.act]
        return x + self.fc_out(act(self.fc(self.ln2(x))))


class GPT(nn.Module):
    """A GPT-style decoder: token (+ learned position) embeddings, pre-norm blocks, a final norm, an LM head."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.pos == "learned" else None
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = _norm(cfg)
        self.lm_head = None if cfg.tied else nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx):
        t = idx.shape[1]
        if t > self.cfg.block_size:
            raise ValueError(f"{t} tokens exceed block_size {self.cfg.block_size}")
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(t))
        for b in self.blocks:
            x = b(x)
        x = self.ln_f(x)
        return x @ self.wte.weight.T if self.lm_head is None else self.lm_head(x)


def weights_of(model, requantize: str | None = "int4", report: list | None = None) -> tuple[GPTConfig, dict]:
    """(config, weights as numpy arrays named as the graph names them) of a supported decoder: pyruntime's GPT,
    a transformers model object of a supported family, the path of a checkpoint folder, or of a GGUF file
    (exporters/gguf.py: its weights stay in their exact encodings)."""
    from . import decoders
    import os
    from . import gguf
    if gguf.is_gguf(model):
        cfg, w, _ = gguf.read(model, requantize, report)
        return cfg, w
    if isinstance(model, (str, os.PathLike)):
        return decoders.read(decoders.from_folder(model))
    if isinstance(getattr(model, "cfg", None), GPTConfig):
        return _ours(model)
    cfg = getattr(model, "config", None)
    if cfg is not None and getattr(cfg, "model_type", None) in decoders.FAMILIES:
        return decoders.read(decoders.from_model(model))
    raise ExportError(f"{type(model).__name__} is not a supported decoder: export_gpt takes pyruntime's "
                      f"exporters.gpt.GPT, a transformers model of the families {', '.join(decoders.FAMILIES)}, "
                      f"or a checkpoint folder of one"
                      + (f" (model_type {cfg.model_type!r})" if getattr(cfg, "model_type", None) else ""))


def _ours(m) -> tuple[GPTConfig, dict]:
    cfg = m.cfg
    w = {"wte": _np(m.wte.weight)}
    if m.wpe is not None:
        w["wpe"] = _np(m.wpe.weight)
    for i, b in enumerate(m.blocks):
        p = f"h{i}."
        for nm, ln in (("ln1", b.ln1), ("ln2", b.ln2)):
            w[p + nm + ".w"] = _np(ln.weight)
            if getattr(ln, "bias", None) is not None:
                w[p + nm + ".b"] = _np(ln.bias)
        for nm, lin in (("qkv", b.qkv), ("proj", b.proj), ("fc", b.fc), ("fc_out", b.fc_out)):
            w[p + nm + ".w"] = _np(lin.weight)          # [out, in]: Linear's layout is transB's
            if lin.bias is not None:
                w[p + nm + ".b"] = _np(lin.bias)
    w["ln_f.w"] = _np(m.ln_f.weight)
    if getattr(m.ln_f, "bias", None) is not None:
        w["ln_f.b"] = _np(m.ln_f.bias)
    if m.lm_head is not None:
        w["lm_head"] = _np(m.lm_head.weight)
    return cfg, w


def _fused_qkv(cfg: GPTConfig, w: dict) -> dict:
    """q, k and v projections given apart joined into one [(H + 2 KV) hd, D] weight (the packed qkv input of
    CausalAttention): one GEMM, one GEMV when decoding. Qwen3's QK-norm needs them apart, and so do weights
    already encoded differently (a GGUF's q in Q4_0 beside its v in Q8_0): to_ir then reads them apart."""
    if cfg.qk_norm:
        return w
    w = dict(w)
    for i in range(cfg.n_layer):
        p = f"h{i}."
        for s in ("w", "b"):
            names = [p + nm + "." + s for nm in "qkv" if p + nm + "." + s in w]
            if names and len(names) != 3:
                raise ExportError(f"layer {i}: q, k and v must all have a {'bias' if s == 'b' else 'weight'} or none")
            joined = concat([w[n] for n in names]) if names else None
            if joined is None:
                break   # (the weights stay apart: so do the biases)
            for n in names:
                del w[n]
            w[p + "qkv." + s] = joined
    return w


def to_ir(cfg: GPTConfig, w: dict, max_context: int | None = None, logits: str = "last", kv_cache: str = "f32") -> IR:
    """The graph of a decoder with one CausalAttention (KV cache) per layer."""
    cfg.check()
    if kv_cache not in ("f32", "f16", "i8"):
        raise ExportError(f"kv_cache must be 'f32', 'f16' or 'i8', got {kv_cache!r}")
    if logits not in ("last", "all"):
        raise ExportError(f"logits must be 'last' or 'all', got {logits!r}")
    ctx = int(max_context or cfg.block_size)
    most, why = (cfg.block_size, "the learned positions") if cfg.pos == "learned" else (1 << 20, "the runtime's cap")
    if not 1 <= ctx <= most:
        raise ExportError(f"max_context must be in [1, {most}] ({why}), got {ctx}")
    w = _fused_qkv(cfg, w)
    ir = IR(name="gpt")
    ir.consts.update({k: v if isinstance(v, (Lazy, Encoded)) else np.ascontiguousarray(v, np.float32)
                      for k, v in w.items()})
    ir.inputs.append(("input_ids", "i64", [-1, -1]))
    if cfg.pos == "learned":
        ir.inputs.append(("position_ids", "i64", [-1, -1]))
    nodes = ir.nodes

    def node(op, ins, name, **attrs):
        out = name
        nodes.append(Node(op, list(ins), [out], attrs, name))
        return out

    def linear(x, p):
        y = node("MatMul", [x, p + ".w"], p, transB=1)
        return node("Add", [y, p + ".b"], p + ".bias") if p + ".b" in w else y

    def normalize(x, p):
        if cfg.norm == "layernorm":
            return node("LayerNormalization", [x, p + ".w", p + ".b" if p + ".b" in w else ""], p, axis=-1,
                        epsilon=float(cfg.eps))
        return node("RMSNormalization", [x, p + ".w"], p, axis=-1, epsilon=float(cfg.eps))

    x = node("Gather", ["wte", "input_ids"], "embed", axis=0)
    if cfg.pos == "learned":
        x = node("Add", [x, node("Gather", ["wpe", "position_ids"], "embed_pos", axis=0)], "embed_sum")
    if cfg.embed_scale:
        ir.consts["embed_scale"] = np.array(cfg.embed_scale, np.float32)
        x = node("Mul", [x, "embed_scale"], "embed_scaled")
    hd, kvh = cfg.hd, cfg.kv_heads
    att = {"num_heads": cfg.n_head, "max_context": ctx, "scale": float(cfg.attn_scale or 1.0 / math.sqrt(hd)),
           "kv_dtype": kv_cache}
    if kvh != cfg.n_head:
        att["num_kv_heads"] = kvh
    if cfg.attn_softcap:
        att["softcap"] = float(cfg.attn_softcap)
    if cfg.pos == "rotary":
        att.update(rotary_dim=cfg.rotary_dim or hd, rotary_base=float(cfg.rotary_base))
        if cfg.rotary_inv_freq:
            att["rotary_inv_freq"] = [float(f) for f in cfg.rotary_inv_freq]
    act, act_attrs = _ACTS[cfg.act]
    if cfg.qk_norm:
        for nm, h in (("q", cfg.n_head), ("k", kvh)):
            ir.consts[f"{nm}.heads"] = np.array([0, 0, h, hd], np.int64)
            ir.consts[f"{nm}.flat"] = np.array([0, 0, h * hd], np.int64)

    def attention(x, p, window):
        extra = {"sliding_window": int(window)} if window else {}
        if p + "qkv.w" in w:
            return node("CausalAttention", [linear(x, p + "qkv")], p + "attn", **att, **extra)
        qkv = []
        for nm in "qkv":   # Qwen3: RMSNorm over each head of q and k (before rotary, which the op applies)
            y = linear(x, p + nm)
            if nm != "v" and cfg.qk_norm:
                y = node("Reshape", [y, f"{nm}.heads"], p + nm + ".heads")
                y = node("RMSNormalization", [y, p + nm + "_norm.w"], p + nm + "_norm", axis=-1, epsilon=float(cfg.eps))
                y = node("Reshape", [y, f"{nm}.flat"], p + nm + ".flat")
            qkv.append(y)
        return node("CausalAttention", qkv, p + "attn", **att, **extra)

    def mlp(x, p):
        if cfg.mlp == "gated":
            g = node(act, [linear(x, p + "gate")], p + "act", **act_attrs)
            return linear(node("Mul", [g, linear(x, p + "up")], p + "glu"), p + "fc_out")
        return linear(node(act, [linear(x, p + "fc")], p + "act", **act_attrs), p + "fc_out")

    for i in range(cfg.n_layer):
        p = f"h{i}."
        a = linear(attention(normalize(x, p + "ln1"), p, cfg.windows[i] if cfg.windows else 0), p + "proj")
        if cfg.parallel:   # GPT-NeoX: both branches read x; summed as transformers sums them
            x = node("Add", [node("Add", [mlp(normalize(x, p + "ln2"), p), a], p + "branches"), x], p + "res")
            continue
        if cfg.sandwich:
            a = normalize(a, p + "ln1_post")
        x = node("Add", [x, a], p + "res1")
        f = mlp(normalize(x, p + "ln2"), p)
        if cfg.sandwich:
            f = normalize(f, p + "ln2_post")
        x = node("Add", [x, f], p + "res2")
    if logits == "last":   # decoding reads the last token's logits only: the head runs on one row
        ir.consts["last.starts"], ir.consts["last.ends"] = np.array([-1], np.int64), np.array([2**62], np.int64)
        ir.consts["last.axes"] = np.array([1], np.int64)
        x = node("Slice", [x, "last.starts", "last.ends", "last.axes"], "last")
    x = normalize(x, "ln_f")
    head = "lm_head" if not cfg.tied else "wte"
    if cfg.logit_softcap:   # Gemma 2: logits / c, tanh, times c (as transformers computes it)
        ir.consts["logit_cap"] = np.array(cfg.logit_softcap, np.float32)
        y = node("MatMul", [x, head], "lm_head", transB=1)
        y = node("Tanh", [node("Div", [y, "logit_cap"], "logits_scaled")], "logits_tanh")
        nodes.append(Node("Mul", [y, "logit_cap"], ["logits"], {}, "logits_capped"))
    else:
        nodes.append(Node("MatMul", [x, head], ["logits"], {"transB": 1}, "lm_head"))
    ir.outputs = [["logits", "logits"]]
    return ir


def export_gpt(model, path, *, quantize: str | None = None, group_size: int = 32, keep_float=(),
               max_context: int | None = None, logits: str = "last", kv_cache: str = "f32", name: str = "",
               tokenizer=None, stream: bool | None = None, progress: bool = False, requantize: str | None = "int4",
               report: list | None = None) -> int:
    """Writes a decoder with KV-cache attention to `path`: pyruntime's GPT, a transformers model of a supported
    family (exporters/decoders.py: Llama, Mistral, Qwen2, Qwen3, Phi-3, Gemma 2, GPT-NeoX, GPT-2), or the path
    of a local checkpoint folder of one (config.json + safetensors, read without building the model).

    quantize: None (f32), "int8-weights" (int8 per output channel) or "int4" (groups of group_size along the
    input axis; the decode step then runs the int4 GEMV on the stored nibbles). max_context: the KV cache's
    capacity (default: the model's block_size / n_positions). kv_cache: "f32", "f16" (half the memory and
    the bytes each decode step reads, keys and values rounded to f16) or "i8" (each token's key and value of
    each head as int8 with one f32 scale: head_dim + 4 bytes instead of 4 x head_dim). tokenizer: stored in
    the file so that Generator takes and gives text (pyruntime/tokenizer.py): a tokenizer.json path or its
    folder, a tokenizers.Tokenizer or a transformers fast tokenizer; None takes a checkpoint folder's own
    tokenizer.json when there is one; False stores none. stream (default: for a checkpoint folder): read,
    quantize and write one tensor at a time, through a temporary file, so the export's memory peaks at about
    its largest tensor (bench/export_memory.py), not the model; the file is the same. progress: a bar over the
    layers on stderr. A GGUF file (model = its path) keeps its F32 / F16 / Q8_0 / Q4_0 tensors exactly
    (exporters/gguf.py; with quantize=, its float weights are quantized as any checkpoint's); other types are dequantized and re-quantized as `requantize` says ("int4",
    "int8-weights", "f16"; None refuses them), a row per such tensor appended to `report` (a list) with its
    error; its byte-level BPE vocabulary becomes the file's tokenizer (tokenizer=None). Returns the file's size
    in bytes."""
    import os
    from .emit import to_graph
    from .quantize import check_options, plan
    from .. import tokenizer as text
    if quantize == "int8":
        raise ExportError("static int8 (quantize='int8') is for convolutional models; decoders take "
                          "quantize='int8-weights' or 'int4'")
    check_options(quantize, group_size, None, keep_float)
    folder = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    tok = text.collect(tokenizer, folder)   # before the weights: a bad tokenizer fails fast
    from . import gguf
    if gguf.is_gguf(model):   # quantize= encodes its float weights; its quantized ones stay as they are
        cfg, w, src = gguf.read(folder, requantize, report, floats_exact=quantize is None)
        if tokenizer is None:   # the GGUF's own vocabulary, where it converts exactly
            tok, why = gguf.tokenizer_info(src)
            if why:
                import warnings
                warnings.warn(f"{folder}: {why}; the file gets no tokenizer (give tokenizer=...)", stacklevel=2)
    else:
        cfg, w = weights_of(model)
    if tok is not None:
        vocab = text.TextTokenizer(tok["json"]).vocab_size
        if vocab > cfg.vocab_size:
            raise ExportError(f"the tokenizer has {vocab} tokens, more than the model's vocab_size {cfg.vocab_size}")
    ir = to_ir(cfg, w, max_context, logits, kv_cache)
    del w   # the IR holds the weights (or, streaming, their loaders) from here
    if not name:
        name = os.path.basename(os.path.normpath(folder)) if folder else type(model).__name__
        name = name[:-5] if name.lower().endswith(".gguf") else name
    stream = folder is not None if stream is None else bool(stream)
    # the logits' type is known: a streaming save declares it instead of planning a session on the file
    ir.out_types["logits"] = ("f32", [-1, 1 if logits == "last" else -1, cfg.vocab_size])
    from ..progress import Progress
    ends = {}   # the last node of each layer: a progress step once it (and every weight before it) is written
    for n in ir.nodes:
        if n.name.startswith("h") and "." in n.name:
            ends[n.name.split(".")[0]] = n.name
    ends = {v: f"layer {k[1:]}" for k, v in ends.items()}
    with Progress(len(ends) + 1, f"writing {name}", enabled=progress) as bar:
        g = to_graph(ir, name, plan(ir, quantize=quantize, group_size=group_size, keep_float=keep_float),
                     spool=stream, on_node=lambda n: bar.step(ends[n.name]) if n.name in ends else None)
        if tok is not None:
            text.store(g.writer, tok)
        size = g.save(path, probe=not stream)
        bar.step("head, file")
    if stream:   # what the probe would have checked of the structure: the runtime opens the file
        from .. import _core
        _core.Model(os.fspath(path))
    return size


__all__ = ["GPTConfig", "GPT", "weights_of", "to_ir", "export_gpt"]
