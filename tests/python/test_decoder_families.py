"""Hugging Face decoder families exported with export_gpt (exporters/decoders.py): each tiny random config
(built with transformers, no download) gives transformers' own greedy tokens and logits, from the model
object and from its save_pretrained folder; the compressed modes stay close; configs that would make another
model are refused naming the key."""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")

import pyruntime  # noqa: E402
from pyruntime.exporters.gpt import export_gpt  # noqa: E402
from pyruntime.exporters.ir import ExportError  # noqa: E402

COMMON = dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
              max_position_embeddings=256)
LLAMA3_ROPE = dict(rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                   original_max_position_embeddings=64)

# each family with what sets it apart switched on: GQA / MQA, scaled RoPE, sliding windows shorter than the
# 76-token sequences, QK-norm, soft-capping, partial rotary, tied and untied heads
FAMILIES = {
    "llama": lambda: T.LlamaForCausalLM(T.LlamaConfig(**COMMON, num_key_value_heads=2, rope_parameters=LLAMA3_ROPE)),
    "mistral": lambda: T.MistralForCausalLM(T.MistralConfig(**COMMON, num_key_value_heads=2, sliding_window=16,
                                                            head_dim=16)),
    "qwen2": lambda: T.Qwen2ForCausalLM(T.Qwen2Config(**COMMON, num_key_value_heads=1, tie_word_embeddings=True)),
    "qwen3": lambda: T.Qwen3ForCausalLM(T.Qwen3Config(**COMMON, num_key_value_heads=2, head_dim=32)),
    "phi3": lambda: T.Phi3ForCausalLM(T.Phi3Config(**COMMON, num_key_value_heads=2, pad_token_id=0)),
    # transformers' sdpa path drops attention soft-capping: eager is the model as defined
    "gemma2": lambda: T.Gemma2ForCausalLM(T.Gemma2Config(**COMMON, num_key_value_heads=2, head_dim=16, sliding_window=8,
                                                         query_pre_attn_scalar=24, attn_logit_softcapping=5.0,
                                                         final_logit_softcapping=3.0, attn_implementation="eager")),
    "gpt_neox": lambda: T.GPTNeoXForCausalLM(T.GPTNeoXConfig(**COMMON)),
    "gpt2": lambda: T.GPT2LMHeadModel(T.GPT2Config(vocab_size=97, n_embd=64, n_layer=3, n_head=4, n_positions=256,
                                                   bos_token_id=0, eos_token_id=0)),
}
PROMPT = [3, 14, 15, 9, 2, 6, 5, 35, 8, 9, 7, 9]


def tiny(family):
    torch.manual_seed(0)
    m = FAMILIES[family]().eval()
    with torch.no_grad():   # weights wider than the init's: logits far enough apart for a varied greedy path
        for p in m.parameters():
            p.normal_(0, 0.05) if p.dim() > 1 else p.add_(torch.randn_like(p) * 0.1)
    m.generation_config.eos_token_id = None      # 64 tokens whatever comes out
    m.generation_config.pad_token_id = 0
    return m


def hf_greedy(m, n=64):
    with torch.no_grad():
        return m.generate(torch.tensor([PROMPT]), max_new_tokens=n, do_sample=False)[0].numpy()


def all_logits(path, ids):
    s = pyruntime.Session(path)
    feeds = {"input_ids": ids[None].astype(np.int64)}
    if "position_ids" in s.input_names:
        feeds["position_ids"] = np.arange(len(ids), dtype=np.int64)[None]
    return s.run(feeds)[0][0]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_matches_transformers(family, tmp_path):
    m = tiny(family)
    ref = hf_greedy(m)
    with torch.no_grad():
        want = m(torch.tensor(ref[None])).logits[0].numpy()
    # the model object
    export_gpt(m, tmp_path / "m.pyrt")
    got = pyruntime.Generator(tmp_path / "m.pyrt").generate(PROMPT, 64)
    np.testing.assert_array_equal(got, ref)
    export_gpt(m, tmp_path / "all.pyrt", logits="all")
    np.testing.assert_allclose(all_logits(tmp_path / "all.pyrt", ref), want, atol=1e-4, rtol=0)
    # its checkpoint folder: the same file, read tensor by tensor without building the model
    m.save_pretrained(tmp_path / "ckpt")
    export_gpt(str(tmp_path / "ckpt"), tmp_path / "folder.pyrt")
    np.testing.assert_array_equal(pyruntime.Generator(tmp_path / "folder.pyrt").generate(PROMPT, 64), ref)
    # compressed: next tokens teacher-forced on the fp32 path (int4 of random weights: see bench/decoders.py)
    for quantize, floor in (("int8-weights", 0.95), ("int4", 0.5)):
        export_gpt(m, tmp_path / "q.pyrt", logits="all", quantize=quantize)
        agree = float((all_logits(tmp_path / "q.pyrt", ref).argmax(-1) == want.argmax(-1)).mean())
        assert agree >= floor, (quantize, agree)


def test_grouped_query_cache_holds_only_the_kv_heads(tmp_path):
    sizes = {}
    for kv in (4, 1):
        torch.manual_seed(0)
        m = T.LlamaForCausalLM(T.LlamaConfig(**COMMON, num_key_value_heads=kv)).eval()
        export_gpt(m, tmp_path / f"kv{kv}.pyrt")
        g = pyruntime.Generator(tmp_path / f"kv{kv}.pyrt")
        g.generate(PROMPT, 4)
        sizes[kv] = g.session.state_bytes
    assert sizes[1] * 4 == sizes[4] > 0


def test_cli_exports_a_checkpoint_folder(tmp_path):
    import subprocess
    import sys
    m = tiny("qwen2")
    m.save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "q.pyrt"
    r = subprocess.run([sys.executable, "-m", "pyruntime", "export", str(tmp_path / "ckpt"), "-o", str(out),
                        "--quantize", "int4", "--kv-cache", "i8", "--max-context", "128"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    g = pyruntime.Generator(out)
    assert g.max_context == 128 and len(g.generate(PROMPT, 8)) == len(PROMPT) + 8
    r = subprocess.run([sys.executable, "-m", "pyruntime", "export", str(tmp_path / "ckpt"), "-o", str(out),
                        "--prune", "0.5"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "prune" in r.stderr


def _folder(tmp_path, family, **changes):
    m = tiny(family)
    m.save_pretrained(tmp_path / "ckpt")
    conf = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    conf.update(changes)
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(conf))
    return str(tmp_path / "ckpt")


@pytest.mark.parametrize("family,changes,words", [
    ("llama", dict(rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=4.0)), "rope_type='yarn'"),
    ("llama", dict(rope_scaling=None, rope_parameters=None, rope_theta=1e4, num_local_experts=8), "num_local_experts=8"),
    ("qwen2", dict(quantization_config={"quant_method": "gptq"}), "quantization_config"),
    ("gemma2", dict(layer_types=["chunked_attention"] * 3), "chunked_attention"),
    ("llama", dict(hidden_act="relu2"), "hidden_act='relu2'"),
    ("llama", dict(model_type="mamba"), "model_type 'mamba'"),
])
def test_unsupported_config_is_refused_naming_the_key(tmp_path, family, changes, words):
    with pytest.raises(ExportError, match=words.replace("(", r"\(").replace("[", r"\[")):
        export_gpt(_folder(tmp_path, family, **changes), tmp_path / "x.pyrt")


def test_folder_errors_name_what_is_missing(tmp_path):
    with pytest.raises(ExportError, match="no config.json"):
        export_gpt(str(tmp_path), tmp_path / "x.pyrt")
    path = _folder(tmp_path, "llama")
    os.remove(os.path.join(path, "model.safetensors"))
    with pytest.raises(ExportError, match="no model.safetensors"):
        export_gpt(path, tmp_path / "x.pyrt")


@pytest.mark.parametrize("family", ["mistral", "gemma2"])
@pytest.mark.parametrize("kv_cache,atol", [("f32", 1e-4), ("f16", 2e-2), ("i8", 1e-1)])
def test_decode_steps_past_the_window_on_every_cache(family, kv_cache, atol, tmp_path):
    """Prefill (through the GEMM, an f16 / i8 cache widened per tile), then one token per run well past the
    sliding window (and, for Gemma 2, with soft-capped scores): each step's logits are transformers' over the
    whole sequence, within the cache type's rounding."""
    m = tiny(family)
    ids = np.random.default_rng(1).integers(0, 97, 48)
    with torch.no_grad():
        want = m(torch.tensor(ids[None])).logits[0].numpy()
    export_gpt(m, tmp_path / "m.pyrt", kv_cache=kv_cache)
    s = pyruntime.Session(tmp_path / "m.pyrt")
    (logits,) = s.run({"input_ids": ids[None, :20]})        # the prompt: tiled, the cache widened per tile
    np.testing.assert_allclose(logits[0, -1], want[19], atol=atol, rtol=0, err_msg="prefill")
    for t in range(20, 48):
        (logits,) = s.run({"input_ids": ids[None, t:t + 1]})
        np.testing.assert_allclose(logits[0, -1], want[t], atol=atol, rtol=0, err_msg=f"step {t}")


@pytest.mark.parametrize("family", ["phi3", "gpt_neox", "gpt2"])
def test_streamed_folder_export_is_the_same_file(family, tmp_path):
    """A checkpoint folder is read, quantized and written one tensor at a time (a spooled writer, outputs
    declared, not probed): the bytes equal the in-memory export's, for the families whose tensors it
    regroups on the way (fused qkv / gate_up, NeoX's per-head qkv, GPT-2's Conv1D)."""
    m = tiny(family)
    m.save_pretrained(tmp_path / "ckpt")
    for quantize in (None, "int4"):
        a = export_gpt(str(tmp_path / "ckpt"), tmp_path / "a.pyrt", quantize=quantize, progress=True)
        b = export_gpt(str(tmp_path / "ckpt"), tmp_path / "b.pyrt", quantize=quantize, stream=False)
        assert a == b and (tmp_path / "a.pyrt").read_bytes() == (tmp_path / "b.pyrt").read_bytes()
