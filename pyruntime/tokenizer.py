"""Text in and out: the tokenizer a decoder's .pyrt file carries, so one file goes from a string to a string.

The exporter stores a Hugging Face `tokenizers` JSON (what a checkpoint's tokenizer.json holds) zlib-compressed
in a u8 tensor, `pyrt.tokenizer.json`, beside the weights (META properties are capped at 1 MiB; a Llama 3
tokenizer is 9 MB), and in META the ids that end a turn (`pyrt.eos_token_ids`), the begin-of-text id and the
chat template when the checkpoint has them. The runtime side needs the `tokenizers` package (and `jinja2`
for chat templates), imported only when text is asked for: token ids alone need numpy only.

    tok = pyruntime.TextTokenizer.from_file("lm.pyrt")     # None when the file has none
    ids = tok.encode("Hello")                              # the checkpoint's own special tokens (e.g. BOS)
    tok.decode(ids)
"""
from __future__ import annotations

import json
import os
import zlib

import numpy as np

TENSOR = "pyrt.tokenizer.json"
KIND = "pyrt.tokenizer"                 # "tokenizers-json+zlib"
EOS = "pyrt.eos_token_ids"              # comma-separated ids
BOS = "pyrt.bos_token_id"
TEMPLATE = "pyrt.chat_template"
_KIND = "tokenizers-json+zlib"


def _need(module: str, why: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{why} needs the '{module}' package: pip install {module}") from None


# --- export side -----------------------------------------------------------------------------------------------

def _ids(v) -> list:
    if v is None:
        return []
    return [int(x) for x in (v if isinstance(v, (list, tuple)) else [v])]


def collect(tokenizer, folder: str | None = None) -> dict | None:
    """What the file stores about a tokenizer: {"json", "eos", "bos", "chat_template"}, or None.

    tokenizer: None (a checkpoint folder's own tokenizer.json, when the model came from a folder), False (none),
    a path to a tokenizer.json or to a folder holding one, a `tokenizers.Tokenizer`, or a transformers fast
    tokenizer (its backend tokenizer, chat template and special tokens)."""
    if tokenizer is False:
        return None
    if tokenizer is None:
        if folder is None or not os.path.isfile(os.path.join(folder, "tokenizer.json")):
            return None
        tokenizer = folder
    info = {"eos": [], "bos": None, "chat_template": None}
    if isinstance(tokenizer, (str, os.PathLike)):
        path = os.fspath(tokenizer)
        d = path if os.path.isdir(path) else os.path.dirname(path)
        file = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
        if not os.path.isfile(file):
            raise FileNotFoundError(f"no tokenizer.json at {file}")
        with open(file, encoding="utf-8") as f:
            info["json"] = f.read()
        tk = _need("tokenizers", "storing a tokenizer").Tokenizer.from_str(info["json"])   # refuses a bad file now
        conf = {}
        for name in ("config.json", "generation_config.json", "tokenizer_config.json"):   # later files win
            p = os.path.join(d, name)
            if os.path.isfile(p):
                with open(p, encoding="utf-8") as f:
                    conf.update({k: v for k, v in json.load(f).items() if v is not None})
        info["eos"] = _ids(conf.get("eos_token_id"))
        info["bos"] = conf.get("bos_token_id")
        for key, tok in (("eos", conf.get("eos_token")), ("bos", conf.get("bos_token"))):
            tok = tok.get("content") if isinstance(tok, dict) else tok
            tid = tk.token_to_id(tok) if isinstance(tok, str) else None
            if tid is not None and key == "eos" and tid not in info["eos"]:
                info["eos"].append(tid)
            elif tid is not None and key == "bos" and info["bos"] is None:
                info["bos"] = tid
        template = conf.get("chat_template")
        if template is None and os.path.isfile(os.path.join(d, "chat_template.jinja")):
            with open(os.path.join(d, "chat_template.jinja"), encoding="utf-8") as f:
                template = f.read()
        info["chat_template"] = template if isinstance(template, str) else None
    elif hasattr(tokenizer, "to_str"):                 # tokenizers.Tokenizer
        info["json"] = tokenizer.to_str()
    elif hasattr(tokenizer, "backend_tokenizer"):      # transformers' fast tokenizers
        info["json"] = tokenizer.backend_tokenizer.to_str()
        info["eos"] = _ids(getattr(tokenizer, "eos_token_id", None))
        info["bos"] = getattr(tokenizer, "bos_token_id", None)
        t = getattr(tokenizer, "chat_template", None)
        info["chat_template"] = t if isinstance(t, str) else None
    else:
        raise TypeError(f"tokenizer must be a path, a tokenizers.Tokenizer or a transformers fast tokenizer, "
                        f"got {type(tokenizer).__name__}")
    return info


def store(writer, info: dict):
    """Adds the tokenizer tensor and its META properties to a format Writer."""
    blob = zlib.compress(info["json"].encode("utf-8"), 9)
    writer.add_tensor(TENSOR, np.frombuffer(blob, np.uint8).copy())
    writer.set_prop(KIND, _KIND)
    if info.get("eos"):
        writer.set_prop(EOS, ",".join(str(i) for i in info["eos"]))
    if info.get("bos") is not None:
        writer.set_prop(BOS, int(info["bos"]))
    if info.get("chat_template"):
        writer.set_prop(TEMPLATE, info["chat_template"])


# --- run side ----------------------------------------------------------------------------------------------------

class TextTokenizer:
    """A file's tokenizer: encode / decode, incremental decoding for streams, the chat template."""

    def __init__(self, json_text: str, eos=(), bos=None, chat_template=None):
        tk = _need("tokenizers", "text in and out")
        self._tk = tk.Tokenizer.from_str(json_text)
        self.eos_token_ids = list(eos)
        self.bos_token_id = bos
        self.chat_template = chat_template
        self.vocab_size = self._tk.get_vocab_size(with_added_tokens=True)

    @classmethod
    def from_file(cls, path) -> "TextTokenizer | None":
        from .format.reader import read
        r = read(path)
        props = r.meta["props"]
        if props.get(KIND) is None:
            return None
        if props[KIND] != _KIND:
            raise ValueError(f"{path}: tokenizer kind {props[KIND]!r} is not one this version reads ({_KIND!r})")
        try:
            text = zlib.decompress(r.decode(TENSOR).tobytes()).decode("utf-8")
        except (KeyError, zlib.error, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: its tokenizer ({TENSOR}) cannot be read: {e}") from None
        eos = [int(x) for x in str(props.get(EOS, "")).split(",") if x.strip()]
        bos = props.get(BOS)
        return cls(text, eos, None if bos is None else int(bos), props.get(TEMPLATE))

    def encode(self, text: str, special_tokens: bool = True) -> list:
        """Token ids of `text`; special_tokens adds what the tokenizer's post-processor adds (e.g. BOS)."""
        return self._tk.encode(text, add_special_tokens=special_tokens).ids

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self._tk.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages, add_generation_prompt: bool = True) -> str:
        """The prompt text of a conversation ([{"role": ..., "content": ...}] or one user message as a str)."""
        if not self.chat_template:
            raise ValueError("the file's tokenizer has no chat template (the checkpoint had none)")
        jinja2 = _need("jinja2", "chat templates")
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

        def raise_exception(msg):
            raise jinja2.exceptions.TemplateError(msg)
        env.globals["raise_exception"] = raise_exception
        tok = lambda i: self._tk.id_to_token(i) if i is not None else ""   # noqa: E731
        return env.from_string(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt,
            bos_token=tok(self.bos_token_id), eos_token=tok(self.eos_token_ids[0] if self.eos_token_ids else None))

    def pieces(self, ids_iter, context=(), skip_special_tokens: bool = True):
        """Text pieces of a stream of ids, each once it is whole: a character split over several byte tokens
        waits for its last one. Each step decodes only the ids since the last piece and those before it
        (`context` first: the prompt's last ids), as decoders look at neighbours: SentencePiece drops the
        space of a text's first word."""
        ids = [int(i) for i in context]
        prefix, read = 0, len(ids)
        for i in ids_iter:
            ids.append(int(i))
            before = self.decode(ids[prefix:read], skip_special_tokens)
            now = self.decode(ids[prefix:], skip_special_tokens)
            if len(now) > len(before) and not now.endswith("\ufffd"):
                yield now[len(before):]
                prefix, read = read, len(ids)


__all__ = ["TextTokenizer", "collect", "store"]
