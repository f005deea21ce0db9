"""Recurrent generators stepped with their state carried between runs (pyruntime.Recurrent): a recurrent VAE's
GRU/LSTM decoder, one step per run, equals PyTorch's full-sequence run, and samples sequences from a latent
by feeding each output back as the next input, as PyTorch does."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import pyruntime  # noqa: E402


class Step(nn.Module):
    """One step of a recurrent VAE decoder: (x_t, state) -> (y_t, next state)."""

    def __init__(self, cell="gru", feat=6, hid=32, z=8):
        super().__init__()
        self.cell = cell
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(feat, hid, batch_first=True)
        self.out = nn.Linear(hid, feat)
        self.init = nn.Linear(z, hid)

    def forward(self, x, h, c=None):
        if self.cell == "gru":
            y, h2 = self.rnn(x, h)
            return self.out(y), h2
        y, (h2, c2) = self.rnn(x, (h, c))
        return self.out(y), h2, c2

    def initial(self, z):
        return torch.tanh(self.init(z)).unsqueeze(0)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recurrent_decoder_steps_and_samples_like_torch(tmp_path, cell):
    torch.manual_seed(0)
    m = Step(cell).eval()
    b, feat, hid, steps = 3, 6, 32, 20
    x1, h0 = torch.randn(b, 1, feat), torch.randn(1, b, hid)
    ex = (x1, h0) if cell == "gru" else (x1, h0, torch.zeros(1, b, hid))
    names = ["x", "h"] + (["c"] if cell == "lstm" else [])
    outs = ["y", "h_next"] + (["c_next"] if cell == "lstm" else [])
    pyruntime.export(m, ex, tmp_path / "step.pyrt", input_names=names, output_names=outs, dynamic_batch=False)
    state = {"h": "h_next"} if cell == "gru" else {"h": "h_next", "c": "c_next"}
    r = pyruntime.Recurrent(tmp_path / "step.pyrt", state)

    # teacher-forced: one step per run equals the whole sequence in one torch call
    xs = torch.randn(b, steps, feat)
    z = torch.randn(b, 8)
    with torch.no_grad():
        h = m.initial(z)
        init = (h,) if cell == "gru" else (h, torch.zeros_like(h))
        full = m.out(m.rnn(xs, init[0] if cell == "gru" else init)[0]).numpy()
    r.reset(**dict(zip(state, [t.numpy() for t in init])))
    got = np.concatenate([r.step(x=xs[:, t:t + 1].numpy())["y"] for t in range(steps)], axis=1)
    np.testing.assert_allclose(got, full, rtol=1e-4, atol=1e-5)

    # free-running: each output is the next input (a sequence sampled from the latent z)
    r.reset(**dict(zip(state, [t.numpy() for t in init])))
    x, mine = np.zeros((b, 1, feat), np.float32), []
    for _ in range(steps):
        x = r.step(x=x)["y"]
        mine.append(x)
    with torch.no_grad():
        st, xt, ref = init, torch.zeros(b, 1, feat), []
        for _ in range(steps):
            o = m(xt, *st)
            xt, st = o[0], o[1:]
            ref.append(xt.numpy())
    np.testing.assert_allclose(np.concatenate(mine, 1), np.concatenate(ref, 1), rtol=1e-4, atol=1e-5)


def test_recurrent_argument_errors(tmp_path):
    torch.manual_seed(0)
    m = Step("gru").eval()
    pyruntime.export(m, (torch.randn(1, 1, 6), torch.randn(1, 1, 32)), tmp_path / "s.pyrt", input_names=["x", "h"],
                     output_names=["y", "h_next"], dynamic_batch=False)
    with pytest.raises(ValueError, match="state input 'hx' is not an input"):
        pyruntime.Recurrent(tmp_path / "s.pyrt", {"hx": "h_next"})
    with pytest.raises(ValueError, match="state output 'h_out' is not an output"):
        pyruntime.Recurrent(tmp_path / "s.pyrt", {"h": "h_out"})
    r = pyruntime.Recurrent(tmp_path / "s.pyrt", {"h": "h_next"})
    with pytest.raises(ValueError, match="call reset"):
        r.step(x=np.zeros((1, 1, 6), np.float32))
    with pytest.raises(ValueError, match="missing"):
        r.reset()
    r.reset(h=np.zeros((1, 1, 32), np.float32))
    with pytest.raises(ValueError, match="are state inputs"):
        r.step(x=np.zeros((1, 1, 6), np.float32), h=np.zeros((1, 1, 32), np.float32))
