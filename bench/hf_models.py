"""Models the benchmarks build from transformers configs (random weights, seeded by the caller; no download)."""


def bert_encoder(**config):
    """A BertModel from BertConfig(**config) whose forward(input_ids) gives the last hidden state (a plain tensor
    output, as the exporters and ONNX Runtime take it)."""
    import torch
    import transformers as T
    bert = T.BertModel(T.BertConfig(**config)).eval()

    class LastHidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = bert

        def forward(self, x):
            return self.m(x).last_hidden_state
    return LastHidden().eval()
