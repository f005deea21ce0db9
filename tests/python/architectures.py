"""Models people bring, for test_architectures.py: tiny random Hugging Face configs (no download) and
hand-written networks. Each entry: a builder returning (module, make_input(batch, length), dynamic_axes or None,
lengths to test). `length` is a sequence length (text, audio frames) where the model has one."""
import torch
from torch import nn
import torch.nn.functional as F


def _hf_wrap(m):
    class Last(nn.Module):   # the encoder's last hidden state: the tensor people feed to a head
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, x):
            o = self.m(x)
            return o.last_hidden_state if hasattr(o, "last_hidden_state") else o[0]
    return Last().eval()


def _tokens(vocab):
    return lambda b, t: torch.randint(0, vocab, (b, t))


def bert():
    import transformers as T
    c = T.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64)
    return _hf_wrap(T.BertModel(c)), _tokens(100), {"input": [1], "output": [1]}, (8, 13)


def distilbert():
    import transformers as T
    c = T.DistilBertConfig(vocab_size=100, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64)
    return _hf_wrap(T.DistilBertModel(c)), _tokens(100), {"input": [1], "output": [1]}, (8, 13)


def gpt2():
    import transformers as T
    c = T.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    return _hf_wrap(T.GPT2Model(c)), _tokens(100), {"input": [1], "output": [1]}, (8, 13)


def llama():   # grouped-query attention (4 query heads, 2 key/value heads), RoPE, RMSNorm, SiLU MLP
    import transformers as T
    c = T.LlamaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=64, max_position_embeddings=64)
    return _hf_wrap(T.LlamaModel(c)), _tokens(100), {"input": [1], "output": [1]}, (8, 13)


def vit():
    import transformers as T
    c = T.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64)
    return _hf_wrap(T.ViTModel(c)), lambda b, t: torch.randn(b, 3, 32, 32), None, (None,)


def mobilevit():
    import transformers as T
    c = T.MobileViTConfig(image_size=64, hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 32, 64],
                          num_attention_heads=2)
    return _hf_wrap(T.MobileViTModel(c)), lambda b, t: torch.randn(b, 3, 64, 64), None, (None,)


def wav2vec2():   # 1-D convolution feature encoder, grouped positional convolution, transformer
    import transformers as T
    c = T.Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=4)
    return _hf_wrap(T.Wav2Vec2Model(c)), lambda b, t: torch.randn(b, 50 * t), {"input": [1], "output": [1]}, (8, 13)


def whisper_encoder():   # its positional table fixes the frame count (max_source_positions * 2)
    import transformers as T
    c = T.WhisperConfig(vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
                        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=16,
                        max_source_positions=32, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                        decoder_start_token_id=1)
    return _hf_wrap(T.WhisperModel(c).encoder), lambda b, t: torch.randn(b, 16, 64), None, (None,)


class KeywordSpotter(nn.Module):
    """1-D convolutions over MFCC-like frames (depthwise separable, BatchNorm, ReLU), global pooling, classes."""

    def __init__(self, feats=10, classes=12):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(feats, 32, 5, 2, 2), nn.BatchNorm1d(32), nn.ReLU())
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Conv1d(32, 32, 3, 1, 1, groups=32), nn.BatchNorm1d(32),
                                                    nn.ReLU(), nn.Conv1d(32, 32, 1), nn.BatchNorm1d(32), nn.ReLU())
                                      for _ in range(3)])
        self.pool = nn.MaxPool1d(2)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(self.pool(self.blocks(self.stem(x))).mean(-1))


def keyword_spotter():
    return KeywordSpotter().eval(), lambda b, t: torch.randn(b, 10, 4 * t), {"input": [2]}, (8, 13)


class ShuffleUnit(nn.Module):
    """ShuffleNet V2 unit (stride 1): channel split, a 1x1 / depthwise 3x3 / 1x1 branch, concat, channel shuffle."""

    def __init__(self, c=32):
        super().__init__()
        h = c // 2
        self.branch = nn.Sequential(nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(),
                                    nn.Conv2d(h, h, 3, 1, 1, groups=h, bias=False), nn.BatchNorm2d(h),
                                    nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU())

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        y = torch.cat([a, self.branch(b)], 1)
        n, c, hh, ww = y.shape
        return y.view(n, 2, c // 2, hh, ww).transpose(1, 2).reshape(n, c, hh, ww)


def shufflenet_unit():
    return ShuffleUnit().eval(), lambda b, t: torch.randn(b, 32, 12, 12), None, (None,)


class LSTMLanguageModel(nn.Module):
    """Embedding, a 2-layer nn.LSTM (zero initial state made from the batch size), tied-size output projection."""

    def __init__(self, vocab=50, dim=24):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, dim, num_layers=2, batch_first=True)
        self.out = nn.Linear(dim, vocab)

    def forward(self, x):
        y, _ = self.lstm(self.emb(x))
        return self.out(y)


def lstm_lm():
    return LSTMLanguageModel().eval(), _tokens(50), {"input": [1], "output": [1]}, (8, 13)


class DetectionNeck(nn.Module):
    """An FPN-style neck: a strided backbone, top-down nearest upsampling to the next level's size, concat."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU())
        self.c2 = nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU())
        self.c3 = nn.Sequential(nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
        self.lat3 = nn.Conv2d(64, 32, 1)
        self.fuse = nn.Conv2d(64, 32, 3, 1, 1)
        self.head = nn.Conv2d(48, 8, 1)

    def forward(self, x):
        p1 = self.c1(x)
        p2 = self.c2(p1)
        p3 = self.lat3(self.c3(p2))
        up = F.interpolate(p3, size=p2.shape[-2:], mode="nearest")
        f2 = self.fuse(torch.cat([up, p2], 1))
        return self.head(torch.cat([F.interpolate(f2, scale_factor=2.0, mode="nearest"), p1], 1))


def detection_neck():
    return DetectionNeck().eval(), lambda b, t: torch.randn(b, 3, 32, 32), None, (None,)


HF = {"bert": bert, "distilbert": distilbert, "gpt2": gpt2, "llama": llama, "vit": vit, "mobilevit": mobilevit,
      "wav2vec2": wav2vec2, "whisper_encoder": whisper_encoder}
HANDWRITTEN = {"keyword_spotter": keyword_spotter, "shufflenet_unit": shufflenet_unit, "lstm_lm": lstm_lm,
               "detection_neck": detection_neck}
