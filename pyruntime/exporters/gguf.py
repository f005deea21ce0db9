"""GGUF (llama.cpp's one-file format) -> the decoder families of exporters/decoders.py, without re-quantizing the
tensor types that have an exact encoding here.

The mapping, bit for bit (G = 32 values per block, the block's f16 scale `d` kept as its 16 bits):

| GGUF type | .pyrt encoding | how |
|---|---|---|
| F32 | `dense` f32 | the same floats |
| F16 | `dense` stored as f16 | the same halves |
| BF16 | `dense` f32 | exact widening (the format stores no bf16 weights) |
| Q8_0 | `i8g`, G = 32, f16 scales | `x = q * d`: the 32 int8 values and `d`, as they are |
| Q4_0 | `i4` signed, G = 32, f16 scales | ggml stores `n` in [0, 15] for `x = (n - 8) * d`, element `j` of a block in the low nibble of byte `j` and element `j + 16` in its high nibble; here `q = n - 8` (two's complement nibble `n ^ 8`), elements `2k` and `2k + 1` share byte `k` (SPEC §6.2), scale `d` (negative and zero `d` allowed) |

Any other type (Q4_1, Q5_x, the K-quants, the IQ types...) is dequantized with the `gguf` package and
re-quantized as `requantize` says (int4 g32, int8 per row, or f16), with each tensor's error reported; or,
with requantize=None, refused naming the tensor and its type.

llama.cpp's converter permutes the rows of the query and key projections of `llama` models (its rotary pairs
neighbouring dimensions; transformers pairs dimension i with i + head_dim / 2); the permutation is undone here on
whole rows, so it touches no value. Llama 3's `rope_freqs` (per-frequency divisors) become the rotary frequencies.

Architectures: llama (Llama 1-3, Mistral, SmolLM, TinyLlama as llama.cpp writes them), qwen2 and qwen3. Keys
that would change the model (another RoPE scaling, experts, per-layer head counts) are refused naming them.
"""
from __future__ import annotations

import os

import numpy as np

from .decoders import Encoded, Lazy, Source
from .ir import ExportError

ARCHITECTURES = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}   # GGUF -> transformers model_type
_PERMUTED_QK = {"llama"}
REQUANTIZE = ("int4", "int8-weights", "f16")

# GGUF tensor names (blk.N.<name>) -> transformers names (model.layers.N.<name>)
_LAYER = {"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
          "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
          "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
          "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
          "attn_v.bias": "self_attn.v_proj.bias", "attn_q_norm.weight": "self_attn.q_norm.weight",
          "attn_k_norm.weight": "self_attn.k_norm.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
          "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight"}
_TOP = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight"}


def _need_gguf():
    try:
        import gguf
    except ImportError as e:
        raise ExportError("reading GGUF files needs the 'gguf' package: pip install gguf") from e
    return gguf


class GGUFSource(Source):
    """A GGUF file as a decoders.Source: its metadata as a transformers config, its tensors by transformers name.
    lazy() gives each weight in its exact encoding (decoders.Encoded); get() its f32 values."""

    def __init__(self, path, requantize: str | None = "int4", report: list | None = None, floats_exact: bool = True):
        gguf = _need_gguf()
        if requantize not in REQUANTIZE + (None,):
            raise ExportError(f"requantize must be one of {REQUANTIZE} or None, got {requantize!r}")
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no GGUF file at {path}")
        try:
            r = gguf.GGUFReader(path, "r")
        except Exception as e:   # the gguf package raises ValueError, KeyError, IndexError... on a bad file
            raise ExportError(f"{path}: not a readable GGUF file ({type(e).__name__}: {e})") from e
        # one row per re-quantized tensor, appended as it is written
        self.gguf, self.requantize, self.report = gguf, requantize, [] if report is None else report
        self.floats_exact = floats_exact   # False: F32 / F16 / BF16 weights are values the export's quantize= encodes
        self._kv = {name: f for name, f in r.fields.items()}
        arch = self.value("general.architecture")
        if arch not in ARCHITECTURES:
            raise ExportError(f"{path}: GGUF architecture {arch!r} is not supported (supported: "
                              f"{', '.join(ARCHITECTURES)})")
        self.arch = arch
        self._tensors = {}
        for t in r.tensors:
            hf = self._hf_name(t.name)
            if hf is None:
                raise ExportError(f"{path}: tensor '{t.name}' ({t.tensor_type.name}) has no place in a {arch} "
                                  f"model as it is built here")
            self._tensors[hf] = t
        config = self._config(path)
        super().__init__(config, self._tensors.keys(), self._values, f"{path}", self._shape)

    # --- metadata ----------------------------------------------------------------------------------------------
    def value(self, key: str, default=None):
        f = self._kv.get(key)
        if f is None:
            return default
        try:
            return f.contents()
        except Exception as e:
            raise ExportError(f"GGUF key {key}: unreadable value ({type(e).__name__}: {e})") from e

    def _config(self, path) -> dict:
        a = self.arch
        key = lambda k, d=None: self.value(f"{a}.{k}", d)   # noqa: E731
        for k in ("expert_count", "expert_used_count"):
            if key(k):
                raise ExportError(f"{path}: GGUF key {a}.{k}={key(k)} is not supported: mixture-of-experts layers "
                                  f"are not built")
        heads, kv = key("attention.head_count"), key("attention.head_count_kv")
        for k, v in (("attention.head_count", heads), ("attention.head_count_kv", kv)):
            if isinstance(v, list):
                raise ExportError(f"{path}: GGUF key {a}.{k} gives a count per layer; one for every layer is built")
        missing = [k for k in ("block_count", "embedding_length", "attention.head_count")
                   if key(k) is None]
        if missing:
            raise ExportError(f"{path}: GGUF keys missing: {', '.join(a + '.' + k for k in missing)}")
        d = int(key("embedding_length"))
        hd = int(key("attention.key_length") or d // int(heads))
        if key("attention.value_length") not in (None, hd):
            raise ExportError(f"{path}: GGUF key {a}.attention.value_length={key('attention.value_length')} "
                              f"differs from the key length {hd}: not built")
        rot = key("rope.dimension_count")
        scaling = key("rope.scaling.type")
        rope = {"rope_type": "default", "rope_theta": float(key("rope.freq_base", 10000.0))}
        if rot is not None and int(rot) != hd:
            rope["partial_rotary_factor"] = int(rot) / hd
        if scaling == "linear":
            rope.update(rope_type="linear", factor=float(key("rope.scaling.factor")))
        elif scaling not in (None, "none"):
            raise ExportError(f"{path}: GGUF key {a}.rope.scaling.type={scaling!r} is not supported (none and "
                              f"linear are)")
        emb = self._tensors.get("model.embed_tokens.weight")
        if emb is None:
            raise ExportError(f"{path}: tensor 'token_embd.weight' is missing")
        c = {"model_type": ARCHITECTURES[a], "num_hidden_layers": int(key("block_count")), "hidden_size": d,
             "num_attention_heads": int(heads), "num_key_value_heads": int(kv or heads), "head_dim": hd,
             "vocab_size": int(key("vocab_size") or self._shape("model.embed_tokens.weight")[0]),
             "max_position_embeddings": int(key("context_length") or 4096),
             "rms_norm_eps": float(key("attention.layer_norm_rms_epsilon", 1e-6)), "hidden_act": "silu",
             "tie_word_embeddings": "lm_head.weight" not in self._tensors, "rope_parameters": rope}
        window = key("attention.sliding_window")
        if window:
            if a != "llama":
                raise ExportError(f"{path}: GGUF key {a}.attention.sliding_window={window} is not supported for "
                                  f"{a}")
            c.update(model_type="mistral", sliding_window=int(window))
        return c

    def rotary_inv_freq(self, base: float, dim: int):
        """Llama 3's frequencies: rope_freqs holds a divisor per frequency (None when the file has none)."""
        t = self._tensors.get("rope_freqs")
        if t is None:
            return None
        f = self.get("rope_freqs").reshape(-1)
        if f.size != dim // 2 or not (np.isfinite(f).all() and (f > 0).all()):
            raise ExportError(f"{self.where}: rope_freqs must hold {dim // 2} positive divisors, got {f.size} values")
        inv = 1.0 / (np.float32(base) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
        return tuple(float(x) for x in (inv / f).astype(np.float32))

    # --- tensors -----------------------------------------------------------------------------------------------
    @staticmethod
    def _hf_name(name: str):
        if name in _TOP:
            return _TOP[name]
        if name == "rope_freqs.weight":
            return "rope_freqs"
        parts = name.split(".", 2)
        if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in _LAYER:
            return f"model.layers.{int(parts[1])}.{_LAYER[parts[2]]}"
        return None

    def _shape(self, hf: str) -> tuple:
        return tuple(int(d) for d in reversed(self._tensors[hf].shape.tolist()))   # GGUF lists ne0 first

    def _rows_order(self, hf: str):
        """The row permutation undoing llama.cpp's q/k permute (None: rows as stored)."""
        if self.arch not in _PERMUTED_QK:
            return None
        for proj, heads in (("q_proj", self.config["num_attention_heads"]),
                            ("k_proj", self.config["num_key_value_heads"])):
            if hf.endswith(f"self_attn.{proj}.weight") or hf.endswith(f"self_attn.{proj}.bias"):
                rows = self._shape(hf)[0]
                if rows % (2 * heads):
                    raise ExportError(f"{self.where}: {hf} has {rows} rows, not a multiple of 2 x {heads} heads")
                # stored row h*hd + 2j + t holds transformers' row h*hd + t*hd/2 + j
                return np.arange(rows).reshape(heads, rows // heads // 2, 2).swapaxes(1, 2).reshape(-1)
        return None

    def _raw(self, hf: str) -> np.ndarray:
        t = self._tensors[hf]
        data = np.asarray(t.data)
        order = self._rows_order(hf)
        if order is not None:
            data = data.reshape(len(order), -1)[order]
        return data

    def _values(self, hf: str) -> np.ndarray:
        """f32 values (dequantized where stored quantized: exact, as the gguf package computes them)."""
        t = self._tensors[hf]
        T = self.gguf.GGMLQuantizationType
        raw = self._raw(hf)
        try:
            if t.tensor_type in (T.F32, T.F16):
                a = raw.astype(np.float32)
            else:
                a = self.gguf.quants.dequantize(raw, t.tensor_type).astype(np.float32)
        except NotImplementedError as e:
            raise ExportError(f"{self.where}: tensor '{t.name}' has type {t.tensor_type.name}, which the gguf "
                              f"package cannot dequantize") from e
        return a.reshape(self._shape(hf))

    def lazy(self, name: str) -> "Encoded | Lazy":
        if name not in self.names:
            raise ExportError(f"{self.where}: tensor '{name}' is missing")
        t = self._tensors[name]
        T = self.gguf.GGMLQuantizationType
        kind = {T.F32: "f32", T.F16: "f16", T.BF16: "f32", T.Q8_0: "i8g", T.Q4_0: "i4"}.get(t.tensor_type)
        if kind in ("f32", "f16") and not self.floats_exact:
            return Lazy(self._shape(name), lambda: self._values(name))
        if kind is None:
            if self.requantize is None:
                raise ExportError(f"{self.where}: tensor '{t.name}' has type {t.tensor_type.name}, which has no exact "
                                  f"encoding here (F32, F16, BF16, Q8_0 and Q4_0 do); convert with requantize= "
                                  f"({', '.join(REQUANTIZE)}) to dequantize and re-quantize it")
            kind = {"int4": "i4+", "int8-weights": "i8+", "f16": "f16+"}[self.requantize]
        return Encoded(self._shape(name), lambda: self._encode(name, kind), kind.rstrip("+"))

    def _encode(self, hf: str, kind: str):
        from ..format.encode import encode
        from ..format.encodings import i4, i8g
        t = self._tensors[hf]
        shape = self._shape(hf)
        if kind in ("f32", "f16"):
            return encode(self._values(hf), "dense" if kind == "f32" else "f16")
        if kind in ("i8g", "i4"):
            rows = shape[0] if len(shape) > 1 else 1
            blocks = self._raw(hf).reshape(rows, -1, 34 if kind == "i8g" else 18)
            d = np.ascontiguousarray(blocks[:, :, :2]).view(np.float16).reshape(rows, -1)
            if not np.isfinite(d.astype(np.float32)).all():
                raise ExportError(f"{self.where}: tensor '{t.name}' has a non-finite block scale")
            if kind == "i8g":
                q = np.ascontiguousarray(blocks[:, :, 2:]).view(np.int8).reshape(rows, -1)
                return i8g.from_parts(shape, q, d, 32)
            qs = blocks[:, :, 2:]
            n = np.concatenate([qs & 0xF, qs >> 4], axis=2).astype(np.int8)   # ggml: j low, j + 16 high
            return i4.from_parts(shape, (n - 8).reshape(rows, -1), d, 32)
        # another type: dequantized, re-quantized, its error reported
        from ..format.reader import decode_encoded
        x = self._values(hf)
        if kind == "i4+":
            e = encode(x, "i4", group_size=32, scale_search=True) if x.ndim > 1 else encode(x, "dense")
        elif kind == "i8+":
            e = encode(x, "i8", axis=0) if x.ndim > 1 else encode(x, "dense")
        else:
            e = encode(x, "f16")
        y = decode_encoded(e)
        err = float(np.sqrt(np.mean((y.astype(np.float64) - x) ** 2)) / max(np.sqrt(np.mean(x.astype(np.float64) ** 2)),
                                                                             1e-30))
        self.report.append({"tensor": t.name, "type": t.tensor_type.name, "encoding": kind.rstrip("+"),
                            "relative_rms_error": err})
        return e


# The pre-tokenizer split of each `tokenizer.ggml.pre` whose transformers tokenizer is one regex split and then
# byte-level BPE (the regexes as the models' own tokenizer.json files give them).
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
_GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
PRE_TOKENIZERS = {"llama-bpe": _LLAMA3_SPLIT, "llama3": _LLAMA3_SPLIT, "qwen2": _QWEN2_SPLIT, "gpt-2": _GPT2_SPLIT}


# GGUF token types (llama.cpp's llama_token_type)
_NORMAL, _UNKNOWN, _CONTROL, _USER, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6


def _spm_merges(tokens: list, scores: list, types: list) -> list:
    """The merges of a BPE that tokenizes as SentencePiece's (llama.cpp's "llama" vocabulary) does: from the
    characters up, merge the adjacent pair whose joined piece is a normal token of the highest score. As BPE
    ranks: every split of each normal piece into two tokens is a merge, ranked by the piece's score (higher
    first; ties in id order)."""
    vocab = {t: i for i, t in enumerate(tokens)}
    ranked = []
    for i, piece in enumerate(tokens):
        if types[i] != _NORMAL or len(piece) < 2:
            continue
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                ranked.append((-float(scores[i]), vocab[left], vocab[right], left, right))
    ranked.sort()
    return [[left, right] for _, _, _, left, right in ranked]


def _spm_json(src: GGUFSource, tokens: list, types: list) -> tuple:
    """(the `tokenizers` JSON body of a SentencePiece vocabulary, None) or (None, why not)."""
    scores = src.value("tokenizer.ggml.scores")
    if scores is None or len(scores) != len(tokens):
        return None, "its SentencePiece vocabulary has no scores (tokenizer.ggml.scores) for its tokens"
    unk = src.value("tokenizer.ggml.unknown_token_id")
    space = bool(src.value("tokenizer.ggml.add_space_prefix", True))
    # spaces are "▁" inside the pieces; a space before the text when the vocabulary says so (llama.cpp's
    # add_space_prefix); bytes with no piece of their own are <0xXX> tokens (byte fallback)
    normalizer = [{"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]
    if space:
        normalizer.insert(0, {"type": "Prepend", "prepend": "\u2581"})
    decoders = [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
                {"type": "Fuse"}]
    if space:
        decoders.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    return {"normalizer": {"type": "Sequence", "normalizers": normalizer}, "pre_tokenizer": None,
            "decoder": {"type": "Sequence", "decoders": decoders},
            "model": {"type": "BPE", "dropout": None, "unk_token": None if unk is None else tokens[int(unk)],
                      "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                      "byte_fallback": True, "ignore_merges": False, "vocab": {t: i for i, t in enumerate(tokens)},
                      "merges": _spm_merges(tokens, scores, types)}}, None


def _byte_bpe_json(src: GGUFSource, tokens: list, pre: str) -> dict:
    merges = src.value("tokenizer.ggml.merges") or []
    return {"normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": PRE_TOKENIZERS[pre]}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": {t: i for i, t in enumerate(tokens)}, "merges": list(merges)}}


def tokenizer_info(src: GGUFSource):
    """(the tokenizer as tokenizer.collect() describes it, built from the GGUF vocabulary as a `tokenizers` JSON
    with the file's tokens, special tokens and BOS rule; None, why not) — byte-level BPE (tokenizer.ggml.model
    "gpt2") whose pre-tokenizer is known (PRE_TOKENIZERS), and SentencePiece ("llama": Llama 1/2, TinyLlama,
    Mistral), as a BPE with byte fallback whose merges follow the pieces' scores; others are not guessed.
    (None, None): the file has no vocabulary."""
    import json
    model, pre = src.value("tokenizer.ggml.model"), src.value("tokenizer.ggml.pre", "default")
    if model is None:   # nothing to convert, nothing to say
        return None, None
    if not (model == "llama" or (model == "gpt2" and pre in PRE_TOKENIZERS)):
        return None, (f"its vocabulary (tokenizer.ggml.model={model!r}, pre={pre!r}) is not converted: SentencePiece "
                      f"('llama') and byte-level BPE with the pre-tokenizers {', '.join(PRE_TOKENIZERS)} are")
    tokens = src.value("tokenizer.ggml.tokens") or []
    types = src.value("tokenizer.ggml.token_type") or [_NORMAL] * len(tokens)
    if len(types) != len(tokens) or len(set(tokens)) != len(tokens):
        return None, "its vocabulary has duplicate tokens or a token_type list of another length"
    if model == "llama":
        body, why = _spm_json(src, tokens, types)
        if body is None:
            return None, why
    else:
        body = _byte_bpe_json(src, tokens, pre)
    special = [i for i, t in enumerate(types) if t in (_CONTROL, _USER)]   # matched whole in the text
    bos, eos = src.value("tokenizer.ggml.bos_token_id"), src.value("tokenizer.ggml.eos_token_id")
    eot = src.value("tokenizer.ggml.eot_token_id")
    j = {"version": "1.0", "truncation": None, "padding": None,
         "added_tokens": [{"id": i, "content": tokens[i], "single_word": False, "lstrip": False, "rstrip": False,
                           "normalized": False, "special": True} for i in special],
         "post_processor": None, **body}
    if src.value("tokenizer.ggml.add_bos_token", model == "llama") and bos is not None:   # llama.cpp's default
        b = {"SpecialToken": {"id": tokens[bos], "type_id": 0}}
        j["post_processor"] = {"type": "TemplateProcessing", "single": [b, {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [b, {"Sequence": {"id": "A", "type_id": 0}}, b,
                                        {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {tokens[bos]: {"id": tokens[bos], "ids": [bos], "tokens": [tokens[bos]]}}}
    ends = [int(i) for i in (eos, eot) if i is not None]
    return {"json": json.dumps(j, ensure_ascii=False), "eos": list(dict.fromkeys(ends)),
            "bos": None if bos is None else int(bos), "chat_template": src.value("tokenizer.chat_template")}, None


def is_gguf(path) -> bool:
    """Whether `path` names a GGUF file (by its extension; the reader checks the rest)."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith(".gguf") and not os.path.isdir(path)


def read(path, requantize: str | None = "int4", report: list | None = None, floats_exact: bool = True):
    """(GPTConfig, weights) of a GGUF file, the weights in their exact encodings (decoders.Encoded), and the
    source. report: a list that gets a row per re-quantized tensor as it is written. floats_exact=False: F32 /
    F16 / BF16 weights come as values (decoders.Lazy), for an export's quantize= to encode."""
    from .decoders import read as read_source
    src = GGUFSource(path, requantize, report, floats_exact)
    cfg, w = read_source(src)
    inv = src.rotary_inv_freq(cfg.rotary_base, cfg.rotary_dim or cfg.hd)
    if inv is not None:
        cfg.rotary_inv_freq = inv
    return cfg, w, src


__all__ = ["ARCHITECTURES", "GGUFSource", "PRE_TOKENIZERS", "REQUANTIZE", "is_gguf", "read", "tokenizer_info"]
