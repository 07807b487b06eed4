"""model.name: pacgan_mlp builds PacGAN's unpacked 2D-mixture networks as its released code states them
(fjxmlzn/PacGAN, synthetic_data_experiments/*GAN&PacGAN/pacgan_task.py: G 4 x 400 linear-without-bias + batch
norm + ReLU and a linear output with bias, D 3 maxout layers of 200 units x 5 pieces, init N(0, 0.02)), and trains on ring8 through the product's trainer."""

from __future__ import annotations

import torch
from torch import nn

from gansearch.config.schema import ModelConfig
from gansearch.trainer.models import build_models
from gansearch.trainer.models.mlp import Maxout


def test_sizes_and_layers_are_pacgans() -> None:
    g, d = build_models(ModelConfig(name="pacgan_mlp", z_dim=2, g_width=400, d_width=200), (2,))
    lin = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(2, 400), (400, 400), (400, 400), (400, 400), (400, 2)]
    assert all(m.bias is None for m in lin[:-1]) and lin[-1].bias is not None
    assert sum(isinstance(m, nn.BatchNorm1d) for m in g.modules()) == 4
    # G: 2*400 + 3*400^2 + 400*2 weights, the output's 2 biases, 4 batch norms of 2*400
    assert sum(p.numel() for p in g.parameters()) == 2 * 400 + 3 * 400 * 400 + 400 * 2 + 2 + 4 * 800
    maxouts = [m for m in d.modules() if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.n_out, m.pieces) for m in maxouts] == [(2, 200, 5), (200, 200, 5), (200, 200, 5)]
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)) for m in d.modules())
    w = torch.cat([m.weight.detach().flatten() for m in lin])
    assert abs(float(w.std()) - 0.02) < 0.001 and abs(float(w.mean())) < 0.001


def test_maxout_is_the_max_of_its_pieces() -> None:
    torch.manual_seed(0)
    m = Maxout(3, 4, 5)
    x = torch.randn(7, 3)
    pieces = (x @ m.linear.weight.T + m.linear.bias).view(7, 4, 5)
    assert torch.equal(m(x), pieces.max(dim=2).values)


def test_it_trains_on_ring8(tmp_path) -> None:
    import gansearch

    out = gansearch.train({"data": {"name": "ring8"}, "model": {"name": "pacgan_mlp", "z_dim": 2, "g_width": 64,
                                                                "d_width": 32},
                           "train": {"steps": 20, "batch_size": 100, "checkpoint_every": 20},
                           "eval": {"every": 20, "num_samples": 300, "grid": 100, "kid": False, "kid_subset_size": 100},
                           "space": {"lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.8}}, tmp_path / "run")
    assert out["status"] == "completed" and out["effective"]["model.name"] == "pacgan_mlp"
