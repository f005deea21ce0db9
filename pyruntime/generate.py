"""`pyruntime.Generator`: token generation from a decoder exported with a KV cache (exporters.gpt.export_gpt).

    >>> g = pyruntime.Generator("gpt.pyrt")
    >>> ids = g.generate([1, 2, 3], max_new_tokens=64)                       # greedy: prompt + 64 new ids
    >>> ids = g.generate(prompt, 64, temperature=0.8, top_k=40, top_p=0.95, seed=0)
    >>> for tok in g.stream(prompt, 64, temperature=0.8, seed=0): print(tok)
    >>> g.generate("Once upon a time", 64)                # with a tokenizer in the file: text in, new text out
    >>> for piece in g.stream("Hi!", 64, chat=True): print(piece, end="")   # the checkpoint's chat template

The prompt runs once (prefill: one run over all its tokens); each new token is one run of one token (decode),
its keys and values appended to the caches the session keeps. Tokens are drawn by the runtime's sampler
(`sampler()`, the one C's pyrt_generate uses), seeded per call: a seed gives the same tokens on every machine
with the same model, from Python and from C.
"""
from __future__ import annotations

import secrets
import time

import numpy as np

from .session import Session


def sampler(temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
            seed: int | None = None):
    """The runtime's token sampler (csrc/core/generate.h): `.sample(logits [B, V])` gives one id per row.
    temperature 0 is greedy (argmax, the lowest id on ties); otherwise logits / temperature, then top_k, then
    top_p (nucleus), then one draw from xoshiro256** seeded with `seed` (None: a fresh random seed)."""
    from . import _core
    return _core.Sampler(float(temperature), int(top_k or 0), 1.0 if top_p is None else float(top_p),
                         secrets.randbits(64) if seed is None else int(seed) & (2**64 - 1))


class Generator:
    """Generates tokens from a .pyrt decoder (inputs `input_ids` [B, T] i64 and, with learned positions,
    `position_ids`; output `logits` [B, 1 or T, V])."""

    def __init__(self, path, num_threads: int | None = None, **session_options):
        self.session = Session(path, num_threads, **session_options)
        names = self.session.input_names
        if "input_ids" not in names or set(names) - {"input_ids", "position_ids"}:
            raise ValueError(f"{path}: not a decoder for Generator: its inputs are {names}; expected input_ids "
                             f"(and position_ids), as exporters.gpt.export_gpt writes")
        if self.session.max_context <= 0:
            raise ValueError(f"{path}: the model has no KV cache (no CausalAttention node); Generator needs one")
        self.max_context = self.session.max_context
        self.vocab_size = int(self.session.outputs[0][2][-1])
        self._positions = "position_ids" in names
        self._path = path
        self._tokenizer = None
        self.stats = {}   # of the last call: prefill/decode tokens and seconds

    def close(self):
        """Closes the session (Session.close): its KV caches and plan are released."""
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def tokenizer(self):
        """The file's TextTokenizer (pyruntime/tokenizer.py), or None when the file carries none."""
        if self._tokenizer is None:
            from .tokenizer import TextTokenizer
            self._tokenizer = TextTokenizer.from_file(self._path) or False
        return self._tokenizer or None

    def _text_prompt(self, text: str, chat: bool) -> np.ndarray:
        tok = self.tokenizer
        if tok is None:
            raise ValueError(f"{self._path}: the file has no tokenizer, so prompts must be token ids (export it "
                             f"with its tokenizer: export_gpt(..., tokenizer=...), or from a checkpoint folder "
                             f"that has a tokenizer.json)")
        if not text:
            raise ValueError("the prompt is empty: give some text")
        if chat:   # the template writes the special tokens itself
            ids = tok.encode(tok.apply_chat_template(text), special_tokens=False)
        else:
            ids = tok.encode(text)
        if not ids:
            raise ValueError(f"the prompt {text[:40]!r} gives no tokens")
        return np.asarray(ids, np.int64)

    def _check(self, input_ids, max_new_tokens, temperature, top_k, top_p) -> np.ndarray:
        ids = np.asarray(input_ids)
        if ids.dtype.kind not in "iu" and ids.size:
            raise TypeError(f"input_ids must be integers, got {ids.dtype}")
        ids = ids.astype(np.int64).reshape(1, -1) if ids.ndim <= 1 else ids.astype(np.int64)
        if ids.ndim != 2:
            raise ValueError(f"input_ids must be a list of token ids or a [batch, tokens] array, got shape {ids.shape}")
        if ids.shape[1] == 0 or ids.shape[0] == 0:
            raise ValueError("the prompt is empty: give at least one token id")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"token ids must be in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}")
        if int(max_new_tokens) != max_new_tokens or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens}")
        need = ids.shape[1] + max(int(max_new_tokens) - 1, 0)   # the last new token is never fed back
        if need > self.max_context:
            raise ValueError(f"context overflow: a prompt of {ids.shape[1]} tokens + {max_new_tokens} new tokens "
                             f"needs {need} positions; the model's context is {self.max_context}")
        if not (temperature >= 0 and np.isfinite(temperature)):
            raise ValueError(f"temperature must be finite and >= 0 (0: greedy), got {temperature}")
        if top_k is not None and (int(top_k) != top_k or top_k <= 0):
            raise ValueError(f"top_k must be a positive integer, got {top_k}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        return ids

    def _run(self, ids: np.ndarray, start: int) -> np.ndarray:
        feeds = {"input_ids": ids}
        if self._positions:
            feeds["position_ids"] = np.broadcast_to(np.arange(start, start + ids.shape[1], dtype=np.int64),
                                                    ids.shape).copy()
        (logits,) = self.session.run(feeds)
        return logits[:, -1, :]

    def stream(self, input_ids, max_new_tokens: int, *, temperature: float = 0.0, top_k: int | None = None,
               top_p: float | None = None, seed: int | None = None, eos_token_id=None, chat: bool = False):
        """Yields new tokens as they are made: ints for a 1-D prompt, arrays of one id per row for a batch;
        for a text prompt (a file with a tokenizer), text pieces, stopping at the file's end-of-turn ids
        unless eos_token_id is given (chat=True: the prompt is a user message put through the chat template).
        temperature 0 is greedy (argmax); otherwise logits / temperature, then top_k, then top_p (nucleus),
        then one draw per row from the runtime's sampler (pyrt_generate's: the same tokens from C for a seed).
        Stops early when every row produced eos_token_id.
        The arguments are checked here, before the first token; one sequence at a time per Generator (the KV
        cache is its session's)."""
        if isinstance(input_ids, str):
            ids = self._check(self._text_prompt(input_ids, chat), max_new_tokens, temperature, top_k, top_p)
            eos = self.tokenizer.eos_token_ids if eos_token_id is None else eos_token_id
            new = self._stream(ids, True, int(max_new_tokens), temperature, top_k, top_p, seed, eos)
            ends = set(np.atleast_1d(eos).astype(np.int64).tolist())   # the end-of-turn token itself is not text
            return self.tokenizer.pieces((t for t in new if t not in ends), context=ids[0, -4:])
        if chat:
            raise ValueError("chat=True needs a text prompt")
        one = np.asarray(input_ids).ndim <= 1
        ids = self._check(input_ids, max_new_tokens, temperature, top_k, top_p)
        return self._stream(ids, one, int(max_new_tokens), temperature, top_k, top_p, seed, eos_token_id)

    def _stream(self, ids, one, max_new_tokens, temperature, top_k, top_p, seed, eos_token_id):
        draw = sampler(temperature, top_k, top_p, seed)
        self.session.reset_state()
        self.stats = {"prefill_tokens": int(ids.size), "decode_tokens": 0, "prefill_s": 0.0, "decode_s": 0.0,
                      "new_tokens": 0}
        if max_new_tokens == 0:
            return
        t0 = time.perf_counter()
        logits = self._run(ids, 0)
        self.stats["prefill_s"] = time.perf_counter() - t0
        pos, done = ids.shape[1], np.zeros(ids.shape[0], bool)
        stop = None if eos_token_id is None or np.size(eos_token_id) == 0 else np.atleast_1d(eos_token_id)
        for i in range(max_new_tokens):
            tok = draw.sample(logits)
            self.stats["new_tokens"] += int(tok.size)
            yield int(tok[0]) if one else tok
            if stop is not None:
                done |= np.isin(tok, stop)
                if done.all():
                    return
            if i + 1 == max_new_tokens:
                return
            t0 = time.perf_counter()
            logits = self._run(tok.reshape(-1, 1), pos)
            self.stats["decode_s"] += time.perf_counter() - t0
            self.stats["decode_tokens"] += int(tok.size)
            pos += 1

    def generate(self, input_ids, max_new_tokens: int, *, temperature: float = 0.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int | None = None, eos_token_id=None, chat: bool = False):
        """The prompt followed by the new tokens: 1-D for a 1-D prompt, else [batch, tokens]. A text prompt (a
        file with a tokenizer) gives the new text, as it reads after the prompt (prompt + result is the whole
        text). eos_token_id: an id or a list of ids that end the sequence (text: the file's end-of-turn ids)."""
        if isinstance(input_ids, str):
            return "".join(self.stream(input_ids, max_new_tokens, temperature=temperature, top_k=top_k,
                                       top_p=top_p, seed=seed, eos_token_id=eos_token_id, chat=chat))
        if chat:
            raise ValueError("chat=True needs a text prompt")
        one = np.asarray(input_ids).ndim <= 1
        ids = self._check(input_ids, max_new_tokens, temperature, top_k, top_p)
        new = list(self._stream(ids, False, int(max_new_tokens), temperature, top_k, top_p, seed, eos_token_id))
        out = np.concatenate([ids, np.stack(new, axis=1)], axis=1) if new else ids
        return out[0] if one else out

    def __repr__(self):
        return f"<pyruntime.Generator vocab={self.vocab_size} context={self.max_context} {self.session!r}>"


class Recurrent:
    """Steps a recurrent model (GRU/LSTM decoder, a recurrent VAE's generator) whose state is graph inputs and
    outputs, carrying the state from one run to the next: each step costs one step of compute.

    >>> r = pyruntime.Recurrent("step.pyrt", state={"h": "h_next"})   # state input -> the output that updates it
    >>> r.reset(h=h0)
    >>> y = r.step(x=x_t)            # the other inputs; returns {output: array} without the state outputs
    """

    def __init__(self, path, state: dict, num_threads: int | None = None, **session_options):
        self.session = Session(path, num_threads, **session_options)
        ins, outs = self.session.input_names, self.session.output_names
        for i, o in state.items():
            if i not in ins:
                raise ValueError(f"state input '{i}' is not an input of the model; its inputs are {ins}")
            if o not in outs:
                raise ValueError(f"state output '{o}' is not an output of the model; its outputs are {outs}")
        self.state_map = dict(state)
        self.state = {}

    def reset(self, **initial):
        """Sets every state input (arrays shaped as the model declares)."""
        missing = [k for k in self.state_map if k not in initial]
        unknown = [k for k in initial if k not in self.state_map]
        if missing or unknown:
            raise ValueError(f"reset needs exactly the state inputs {sorted(self.state_map)}"
                             + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else ""))
        self.state = {k: np.ascontiguousarray(v, np.float32) for k, v in initial.items()}

    def step(self, **inputs) -> dict:
        if not self.state:
            raise ValueError("call reset() with the initial state before step()")
        clash = [k for k in inputs if k in self.state_map]
        if clash:
            raise ValueError(f"{clash} are state inputs, carried by the runner: pass them to reset()")
        outs = dict(zip(self.session.output_names, self.session.run({**inputs, **self.state})))
        for i, o in self.state_map.items():
            self.state[i] = outs.pop(o)
        return outs


__all__ = ["Generator", "Recurrent", "sampler"]
