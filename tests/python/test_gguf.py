"""GGUF in (exporters/gguf.py, `pyruntime convert`): a GGUF written with the gguf package from a tiny random
transformers model (Q4_0 + Q8_0 + F16 + F32 tensors, q/k rows permuted as llama.cpp's converter writes them)
converts bit for bit, and gives the logits of the fp32 model made from the dequantized GGUF tensors; other types
are re-quantized with their error reported or refused; bad files are clear errors."""
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")

import pyruntime  # noqa: E402
from pyruntime.exporters.gpt import export_gpt  # noqa: E402
from pyruntime.exporters.ir import ExportError  # noqa: E402

Q = gguf.GGMLQuantizationType
L, D, H, KV, FF, V = 2, 64, 4, 2, 128, 320
IDS = np.array([[1, 5, 9, 22, 40, 7, 3, 64, 11, 90]], np.int64)


def _permute(w, heads):
    """llama.cpp's convert_hf_to_gguf permute of q / k rows (rotary on neighbouring pairs)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _model(arch):
    common = dict(vocab_size=V, hidden_size=D, intermediate_size=FF, num_hidden_layers=L, num_attention_heads=H,
                  num_key_value_heads=KV, max_position_embeddings=128, rms_norm_eps=1e-5, tie_word_embeddings=False)
    torch.manual_seed(0)
    if arch == "llama":
        return T.LlamaForCausalLM(T.LlamaConfig(**common)).eval()
    if arch == "qwen2":
        return T.Qwen2ForCausalLM(T.Qwen2Config(**common)).eval()
    return T.Qwen3ForCausalLM(T.Qwen3Config(**common, head_dim=16)).eval()


def write_gguf(path, arch="llama", types=None, extra=None, vocab=None):
    """(the model with the GGUF's dequantized weights, {gguf tensor name: its dequantized values, rows as
    transformers orders them}). types: gguf name (or name in a layer) -> type (default: a Q4_0 / Q8_0 / F16 /
    F32 mix; layer 1's q, k and v all Q4_0, so that they join)."""
    m = _model(arch)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in m.state_dict().items()}
    types = {"attn_q.weight": Q.Q4_0, "attn_k.weight": Q.Q4_0, "attn_v.weight": Q.Q8_0, "attn_output.weight": Q.Q8_0,
             "ffn_gate.weight": Q.Q4_0, "ffn_up.weight": Q.Q4_0, "ffn_down.weight": Q.Q4_0,
             "token_embd.weight": Q.Q8_0, "output.weight": Q.F16, "blk.1.attn_v.weight": Q.Q4_0, **(types or {})}
    w = gguf.GGUFWriter(os.fspath(path), arch)
    w.add_block_count(L)
    w.add_context_length(128)
    w.add_embedding_length(D)
    w.add_feed_forward_length(FF)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    if arch == "qwen3":
        w.add_key_length(16)
        w.add_value_length(16)
    for k, v in (extra or {}).items():
        w.add_key_value(k, v, gguf.GGUFValueType.STRING if isinstance(v, str) else gguf.GGUFValueType.UINT32)
    if vocab is not None and vocab[3] == "spm":   # (tokens, scores, token types, "spm", bos, eos, add_bos)
        tokens, scores, ttypes, _, bos, eos, add_bos = vocab
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(ttypes)
        w.add_bos_token_id(bos)
        w.add_eos_token_id(eos)
        w.add_unk_token_id(0)
        if add_bos is not None:
            w.add_add_bos_token(add_bos)
    elif vocab is not None:   # (tokens, merges, token types, pre, bos, eos, add_bos)
        tokens, merges, ttypes, pre, bos, eos, add_bos = vocab
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types(ttypes)
        w.add_token_merges(merges)
        w.add_bos_token_id(bos)
        w.add_eos_token_id(eos)
        w.add_add_bos_token(add_bos)
        w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}")
    deq = {}
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    per_layer = {"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
                 "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
                 "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
                 "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
                 "ffn_down.weight": "mlp.down_proj.weight", "attn_q.bias": "self_attn.q_proj.bias",
                 "attn_k.bias": "self_attn.k_proj.bias", "attn_v.bias": "self_attn.v_proj.bias",
                 "attn_q_norm.weight": "self_attn.q_norm.weight", "attn_k_norm.weight": "self_attn.k_norm.weight"}
    for i in range(L):
        for g, h in per_layer.items():
            names[f"blk.{i}.{g}"] = f"model.layers.{i}.{h}"
    for g, h in names.items():
        if h not in sd:
            continue
        a = sd[h]
        heads = {"attn_q": H, "attn_k": KV}.get(g.split(".")[-2]) if arch == "llama" else None
        if heads:
            a = _permute(a, heads)
        qt = types.get(g, types.get(g.split(".", 2)[-1], Q.F32))   # by full name, else by the name in a layer
        if qt == Q.F32:
            data, d = a, a
        elif qt == Q.F16:
            data = a.astype(np.float16)
            d = data.astype(np.float32)
        else:
            data = gguf.quants.quantize(a, qt)
            d = gguf.quants.dequantize(data, qt).astype(np.float32)
        w.add_tensor(g, data, raw_dtype=qt)
        if heads:   # back to transformers' row order
            d = d.reshape(heads, d.shape[0] // heads // 2, 2, *d.shape[1:]).swapaxes(1, 2).reshape(d.shape)
        deq[g] = d
        sd[h] = d
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    m.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    return m, deq


def _logits(path, **opts):
    return pyruntime.Session(path, **opts).run({"input_ids": IDS})[0][0]


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3"])
def test_converts_to_the_logits_of_the_dequantized_model(arch, tmp_path):
    m, _ = write_gguf(tmp_path / "m.gguf", arch)
    export_gpt(tmp_path / "m.gguf", tmp_path / "m.pyrt", logits="all", max_context=64)
    export_gpt(m, tmp_path / "ref.pyrt", logits="all", max_context=64)   # fp32, from the dequantized weights
    ref = _logits(tmp_path / "ref.pyrt")
    with torch.no_grad():
        hf = m(torch.from_numpy(IDS)).logits[0].numpy()
    np.testing.assert_allclose(ref, hf, atol=1e-4)
    np.testing.assert_allclose(_logits(tmp_path / "m.pyrt", decode_weights=True), ref, atol=1e-4)
    # as it runs by default: the int4 / int8 kernels quantize the activations (as llama.cpp's do)
    got = _logits(tmp_path / "m.pyrt")
    assert np.abs(got - ref).max() < 0.05 * np.abs(ref).max()
    assert (got.argmax(-1) == ref.argmax(-1)).mean() >= 0.9


def test_tensors_map_bit_for_bit(tmp_path):
    _, deq = write_gguf(tmp_path / "m.gguf")
    export_gpt(tmp_path / "m.gguf", tmp_path / "m.pyrt", max_context=64)
    for backend in ("native", "python"):
        f = pyruntime.load(tmp_path / "m.pyrt", backend=backend)
        enc = {t.name: t.encoding for t in f.tensors}
        assert enc["wte"] == "i8g" and enc["h0.v.w"] == "i8g" and enc["h0.q.w"] == "i4"
        assert enc["h1.qkv.w"] == "i4" and enc["lm_head"] == "dense"   # layer 1's q, k, v: all Q4_0, joined
        np.testing.assert_array_equal(f.tensor("wte"), deq["token_embd.weight"])
        np.testing.assert_array_equal(f.tensor("lm_head"), deq["output.weight"])
        np.testing.assert_array_equal(f.tensor("h0.q.w"), deq["blk.0.attn_q.weight"])
        np.testing.assert_array_equal(f.tensor("h0.k.w"), deq["blk.0.attn_k.weight"])
        np.testing.assert_array_equal(f.tensor("h0.proj.w"), deq["blk.0.attn_output.weight"])
        np.testing.assert_array_equal(f.tensor("h1.qkv.w"), np.concatenate(
            [deq[f"blk.1.attn_{x}.weight"] for x in "qkv"]))
        np.testing.assert_array_equal(f.tensor("h1.fc_out.w"), deq["blk.1.ffn_down.weight"])
    # the Q4_0 blocks with negative and zero scales are there (ggml's quantizer makes d negative when the
    # block's largest magnitude is positive)
    from pyruntime.format.reader import read
    r = read(tmp_path / "m.pyrt")
    s = np.frombuffer(r._bytes(r.tensor_info("h0.q.w").extents[1]), np.float16)
    assert (s < 0).any() and (s > 0).any()


def test_other_types_requantized_with_the_error_reported_or_refused(tmp_path):
    write_gguf(tmp_path / "m.gguf", types={"ffn_up.weight": Q.Q5_0, "ffn_gate.weight": Q.Q4_1})
    report = []
    export_gpt(tmp_path / "m.gguf", tmp_path / "m.pyrt", max_context=64, report=report)
    rows = {(r["tensor"], r["type"], r["encoding"]) for r in report}
    assert rows == {(f"blk.{i}.{n}.weight", t, "i4") for i in range(L) for n, t in (("ffn_up", "Q5_0"),
                                                                                     ("ffn_gate", "Q4_1"))}
    assert all(0 < r["relative_rms_error"] < 0.2 for r in report)
    report = []
    export_gpt(tmp_path / "m.gguf", tmp_path / "m8.pyrt", max_context=64, report=report, requantize="int8-weights")
    assert {r["encoding"] for r in report} == {"i8"} and all(r["relative_rms_error"] < 0.05 for r in report)
    with pytest.raises(ExportError, match=r"blk\.0\.ffn_gate\.weight.*Q4_1.*no exact encoding"):
        export_gpt(tmp_path / "m.gguf", tmp_path / "x.pyrt", max_context=64, requantize=None)


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        export_gpt(tmp_path / "none.gguf", tmp_path / "x.pyrt")
    write_gguf(tmp_path / "m.gguf")
    blob = (tmp_path / "m.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(blob[:len(blob) // 3])
    with pytest.raises(ExportError, match="not a readable GGUF file"):
        export_gpt(tmp_path / "cut.gguf", tmp_path / "x.pyrt")
    (tmp_path / "junk.gguf").write_bytes(b"GGUF" + b"\xff" * 64)
    with pytest.raises(ExportError, match="not a readable GGUF file"):
        export_gpt(tmp_path / "junk.gguf", tmp_path / "x.pyrt")
    w = gguf.GGUFWriter(os.fspath(tmp_path / "arch.gguf"), "mamba")
    w.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ExportError, match="architecture 'mamba' is not supported"):
        export_gpt(tmp_path / "arch.gguf", tmp_path / "x.pyrt")
    write_gguf(tmp_path / "scaled.gguf", extra={"llama.rope.scaling.type": "yarn"})
    with pytest.raises(ExportError, match="rope.scaling.type='yarn'"):
        export_gpt(tmp_path / "scaled.gguf", tmp_path / "x.pyrt")
    assert not (tmp_path / "x.pyrt").exists()


def test_cli_convert(tmp_path):
    write_gguf(tmp_path / "m.gguf", types={"ffn_up.weight": Q.Q5_0})
    r = subprocess.run([sys.executable, "-m", "pyruntime", "convert", os.fspath(tmp_path / "m.gguf"),
                        "--max-context", "64"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "re-quantized blk.0.ffn_up.weight (Q5_0 -> i4): relative RMS error" in r.stderr
    assert "2 re-quantized" in r.stderr
    g = pyruntime.Generator(tmp_path / "m.pyrt")
    assert len(g.generate(IDS[0].tolist(), 8)) == IDS.shape[1] + 8   # the prompt, then 8 new tokens
    r = subprocess.run([sys.executable, "-m", "pyruntime", "convert", os.fspath(tmp_path / "m.gguf"), "-o",
                        os.fspath(tmp_path / "y.pyrt"), "--requantize", "refuse"], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode != 0 and "Q5_0" in r.stderr and "Traceback" not in r.stderr


TEXT = ["Hello world, it's 2026!\nNew line\t tab", "naïve café — 12345 apples", "<|im_start|>hi<|im_end|>",
        "   spaces  and 's 'll 'VE", "emoji 🙂 and ümlauts"]


def _trained_bpe(vocab_size):
    """A byte-level BPE (Qwen2's split) trained on a few lines, with two special tokens."""
    tk = pytest.importorskip("tokenizers")
    import json
    from pyruntime.exporters.gguf import PRE_TOKENIZERS
    t = tk.Tokenizer(tk.models.BPE())
    t.pre_tokenizer = tk.pre_tokenizers.Sequence([
        tk.pre_tokenizers.Split(tk.Regex(PRE_TOKENIZERS["qwen2"]), behavior="isolated"),
        tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|im_start|>", "<|im_end|>"],
                                     initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    t.train_from_iterator(TEXT * 20 + ["the quick brown fox jumps over the lazy dog"] * 20, trainer)
    j = json.loads(t.to_str())
    vocab = j["model"]["vocab"]
    tokens = [None] * len(vocab)
    for k, i in vocab.items():
        tokens[i] = k
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    types = [3 if k.startswith("<|") else 1 for k in tokens]
    return t, (tokens, merges, types, "qwen2", 0, 1, False)


def test_gguf_vocabulary_becomes_the_files_tokenizer(tmp_path):
    ref, vocab = _trained_bpe(V)
    assert ref.get_vocab_size() <= V
    write_gguf(tmp_path / "m.gguf", vocab=vocab)
    export_gpt(tmp_path / "m.gguf", tmp_path / "m.pyrt", max_context=64)
    from pyruntime.tokenizer import TextTokenizer
    tt = TextTokenizer.from_file(tmp_path / "m.pyrt")
    assert tt.eos_token_ids == [1] and tt.bos_token_id == 0 and "im_start" in tt.chat_template
    for text in TEXT:
        ids = ref.encode(text).ids
        assert tt.encode(text) == ids, text
        assert tt.decode(ids, skip_special_tokens=False) == ref.decode(ids, skip_special_tokens=False)
    g = pyruntime.Generator(tmp_path / "m.pyrt")
    assert isinstance(g.generate("Hello world", 4), str)


def _spm_vocab(seed=0):
    """A SentencePiece-style vocabulary ("llama" in GGUF): <unk>, <s>, </s>, the 256 byte tokens, the characters
    of TEXT (less a few, which fall back to bytes) and pieces cut from it with random scores."""
    rng = np.random.default_rng(seed)
    corpus = ["\u2581" + t.replace(" ", "\u2581") for t in TEXT + ["the quick brown fox jumps over the lazy dog"]]
    left_out = {"\U0001F642", "\u2014", "\t"}
    chars = sorted({c for t in corpus for c in t} - left_out)
    # the byte tokens of the characters left out (a real vocabulary has all 256; the test model's vocab is small)
    byte_tokens = [f"<0x{b:02X}>" for b in sorted({b for c in left_out for b in c.encode()})]
    subs = sorted({t[i:i + n] for t in corpus for n in range(2, 7) for i in range(len(t) - n + 1)})
    room = V - 3 - len(byte_tokens) - len(chars)
    pieces = [str(p) for p in rng.permutation(subs) if not set(p) - set(chars)][:room]
    tokens = ["<unk>", "<s>", "</s>"] + byte_tokens + chars + pieces
    types = [2, 3, 3] + [6] * len(byte_tokens) + [1] * (len(chars) + len(pieces))
    scores = ([0.0] * (3 + len(byte_tokens)) + [-1000.0 - i for i in range(len(chars))]
              + list(-rng.random(len(pieces)) * 100))
    return tokens, scores, types


def _spm_reference(text, tokens, scores, types):
    """llama.cpp's SentencePiece tokenizer, written out: from the characters, merge the adjacent pair whose joined
    piece is a normal token of the highest score (the leftmost on ties); pieces without a token become bytes."""
    score = {t: sc for t, sc, ty in zip(tokens, scores, types) if ty == 1}
    ids = {t: i for i, t in enumerate(tokens)}
    sym = list("\u2581" + text.replace(" ", "\u2581"))
    while True:
        best = None
        for i in range(len(sym) - 1):
            sc = score.get(sym[i] + sym[i + 1])
            if sc is not None and (best is None or sc > best[0]):
                best = (sc, i)
        if best is None:
            break
        i = best[1]
        sym[i:i + 2] = [sym[i] + sym[i + 1]]
    out = []
    for p in sym:
        out.extend([ids[p]] if p in score else [ids[f"<0x{b:02X}>"] for b in p.encode()])
    return out


@pytest.mark.parametrize("add_bos", [None, False])
def test_sentencepiece_vocabulary_tokenizes_as_llama_cpp(tmp_path, add_bos):
    """A "llama" (SentencePiece) GGUF vocabulary becomes a BPE with byte fallback whose merges follow the pieces'
    scores: the same ids as llama.cpp's algorithm, the BOS rule (llama.cpp's default: on), and text back."""
    pytest.importorskip("tokenizers")
    tokens, scores, types = _spm_vocab()
    assert len(tokens) <= V
    write_gguf(tmp_path / "m.gguf", vocab=(tokens, scores, types, "spm", 1, 2, add_bos))
    export_gpt(tmp_path / "m.gguf", tmp_path / "m.pyrt", max_context=64)
    from pyruntime.tokenizer import TextTokenizer
    tt = TextTokenizer.from_file(tmp_path / "m.pyrt")
    assert tt.eos_token_ids == [2] and tt.bos_token_id == 1
    fallback = 0
    for text in TEXT + ["the quick brown fox", "fox\tdog \u2014 \U0001F642!"]:
        want = _spm_reference(text, tokens, scores, types)
        fallback += sum(1 for i in want if types[i] == 6)
        assert tt.encode(text, special_tokens=False) == want, text
        assert tt.encode(text) == ([1] if add_bos is None else []) + want
        assert tt.decode(want) == text
    assert fallback > 0   # the characters left out came as bytes
    assert isinstance(pyruntime.Generator(tmp_path / "m.pyrt").generate("the quick", 4), str)


def test_unknown_vocabulary_is_not_guessed(tmp_path):
    _, vocab = _trained_bpe(V)
    write_gguf(tmp_path / "m.gguf", vocab=vocab[:3] + ("some-new-pre",) + vocab[4:])
    with pytest.warns(UserWarning, match="pre='some-new-pre'.*is not converted"):
        export_gpt(tmp_path / "m.gguf", tmp_path / "m.pyrt", max_context=64)
    from pyruntime.tokenizer import TextTokenizer
    assert TextTokenizer.from_file(tmp_path / "m.pyrt") is None


def test_quantize_applies_to_the_float_tensors_only(tmp_path):
    _, deq = write_gguf(tmp_path / "m.gguf")
    export_gpt(tmp_path / "m.gguf", tmp_path / "m.pyrt", max_context=64, quantize="int4")
    f = pyruntime.load(tmp_path / "m.pyrt")
    enc = {t.name: t.encoding for t in f.tensors}
    assert enc["lm_head"] == "i4" and enc["wte"] == "i8g"   # F16 head quantized; Q8_0 embedding as it was
    np.testing.assert_array_equal(f.tensor("h0.q.w"), deq["blk.0.attn_q.weight"])   # Q4_0: still exact
    head = f.tensor("lm_head")
    assert not np.array_equal(head, deq["output.weight"]) and np.abs(head - deq["output.weight"]).max() < 0.05
