"""Text in, text out from one file: the tokenizer export_gpt stores (pyruntime/tokenizer.py), Generator taking and
giving strings, the chat template, and `pyruntime generate`."""
import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

import pyruntime  # noqa: E402
from pyruntime.exporters.gpt import export_gpt  # noqa: E402
from pyruntime.exporters.ir import ExportError  # noqa: E402

TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def make_tokenizer(vocab=250):
    """A SentencePiece-style BPE (Metaspace, BOS added) learnt from this file's own text: no download."""
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers
    tk = tokenizers.Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Metaspace()
    tk.decoder = decoders.Metaspace()
    tk.train_from_iterator([open(__file__, encoding="utf-8").read()],
                           trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<unk>", "<s>", "</s>"],
                                               show_progress=False))
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return tk


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny Qwen2 saved with save_pretrained, and its tokenizer.json / tokenizer_config.json beside it."""
    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    m = T.Qwen2ForCausalLM(T.Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=128)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.1) if p.dim() > 1 else p.add_(torch.randn_like(p) * 0.1)
    m.save_pretrained(d)
    tk = make_tokenizer()
    tk.save(str(d / "tokenizer.json"))
    (d / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>",
                                                         "chat_template": TEMPLATE}))
    export_gpt(str(d), d / "lm.pyrt")
    return m, tk, d


def hf_new_ids(m, ids, n):
    m.generation_config.eos_token_id, m.generation_config.pad_token_id = None, 0
    with torch.no_grad():
        return m.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False)[0, len(ids):].tolist()


def continuation(tk, ids, new):
    """The text `new` adds after `ids`, as it reads after the prompt (a SentencePiece word keeps its space)."""
    return tk.decode(list(ids) + list(new))[len(tk.decode(list(ids))):]


def test_text_in_text_out_matches_transformers(checkpoint):
    m, tk, d = checkpoint
    g = pyruntime.Generator(d / "lm.pyrt")
    assert g.tokenizer.eos_token_ids == [2] and g.tokenizer.bos_token_id == 1
    prompt = "def make_tokenizer(vocab"
    ids = tk.encode(prompt).ids
    assert g.tokenizer.encode(prompt) == ids and ids[0] == 1           # the checkpoint's BOS, added as it adds it
    want = continuation(tk, ids, hf_new_ids(m, ids, 24))
    assert g.generate(prompt, 24, eos_token_id=[]) == want
    pieces = list(g.stream(prompt, 24, eos_token_id=[]))
    assert "".join(pieces) == want and len(pieces) > 3


def test_stream_stops_at_the_files_end_of_turn(checkpoint):
    m, tk, d = checkpoint
    g = pyruntime.Generator(d / "lm.pyrt")
    prompt = tk.encode("x").ids
    new = g.generate(np.array(prompt), 40)[len(prompt):].tolist()
    text = g.generate("x", 40)
    if 2 in new:   # the text stops where the id 2 (</s>) came
        new = new[:new.index(2)]
    assert text == continuation(tk, prompt, new)


def test_chat_prompt_is_the_checkpoints_template(checkpoint):
    m, tk, d = checkpoint
    g = pyruntime.Generator(d / "lm.pyrt")
    fast = T.PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", chat_template=TEMPLATE)
    msgs = [{"role": "user", "content": "hello there"}]
    rendered = fast.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert g.tokenizer.apply_chat_template(msgs) == rendered
    ids = fast.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    want = continuation(tk, ids, hf_new_ids(m, list(ids), 12))
    got = g.generate("hello there", 12, chat=True, eos_token_id=[])
    assert got == want


def test_text_errors_are_clear(checkpoint, tmp_path):
    m, tk, d = checkpoint
    g = pyruntime.Generator(d / "lm.pyrt")
    with pytest.raises(ValueError, match="prompt is empty"):
        g.generate("", 4)
    with pytest.raises(ValueError, match="context overflow"):
        g.generate("word " * 200, 4)
    with pytest.raises(ValueError, match="chat=True needs a text prompt"):
        g.generate([1, 2], 4, chat=True)
    export_gpt(str(d), tmp_path / "bare.pyrt", tokenizer=False)
    bare = pyruntime.Generator(tmp_path / "bare.pyrt")
    assert bare.tokenizer is None
    with pytest.raises(ValueError, match="has no tokenizer"):
        bare.generate("hello", 4)
    assert len(bare.generate([1, 5, 6], 4)) == 7                   # ids still work


def test_tokenizer_from_an_object_and_vocab_check(checkpoint, tmp_path):
    m, tk, d = checkpoint
    export_gpt(m, tmp_path / "obj.pyrt", tokenizer=tk)
    g = pyruntime.Generator(tmp_path / "obj.pyrt")
    assert g.tokenizer.encode("abc") == tk.encode("abc").ids and g.tokenizer.chat_template is None
    with pytest.raises(ExportError, match="more than the model's vocab_size"):
        export_gpt(m, tmp_path / "big.pyrt", tokenizer=make_tokenizer(300))
    with pytest.raises(TypeError, match="tokenizer must be"):
        export_gpt(m, tmp_path / "x.pyrt", tokenizer=42)
    # the stored tokenizer is compressed: smaller than its JSON
    from pyruntime.format.reader import read
    assert read(tmp_path / "obj.pyrt").tensor_info("pyrt.tokenizer.json").nbytes < len(tk.to_str())


def test_cli_generate_streams_text_and_a_timing_line(checkpoint):
    m, tk, d = checkpoint
    r = subprocess.run([sys.executable, "-m", "pyruntime", "generate", str(d / "lm.pyrt"), "-p", "def make",
                        "-n", "12", "--seed", "1", "--temp", "0.8"], capture_output=True, text=True, cwd=d)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("def make") and len(r.stdout) > len("def make\n")
    assert "prompt:" in r.stderr and "tok/s" in r.stderr and "peak RSS" in r.stderr
    again = subprocess.run([sys.executable, "-m", "pyruntime", "generate", str(d / "lm.pyrt"), "-p", "def make",
                            "-n", "12", "--seed", "1", "--temp", "0.8"], capture_output=True, text=True, cwd=d)
    assert again.stdout == r.stdout                                  # a seed gives the same text
    bad = subprocess.run([sys.executable, "-m", "pyruntime", "generate", str(d / "lm.pyrt"), "-p", ""],
                         capture_output=True, text=True, cwd=d)
    assert bad.returncode == 2 and "prompt is empty" in bad.stderr
