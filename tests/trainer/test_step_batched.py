"""The leaner step keeps DCGAN's maths: D's real and fake batches in one call normalise each half with its
own batch-norm statistics (outputs, gradients and running statistics as two calls give them), and fakes
used only detached (several D steps per G step) build no G graph."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from gansearch.config import fixed_params, load
from gansearch.config.schema import ModelConfig
from gansearch.trainer import Trainer
from gansearch.trainer.models import build_models
from gansearch.trainer.models.dcgan import SourceBatchNorm2d

ROOT = Path(__file__).resolve().parents[2]
TINY = ["train.steps=4", "train.checkpoint_every=4", "train.batch_size=16", "eval.every=4", "eval.num_samples=256",
        "eval.kid_subset_size=128", "eval.grid=16", "model.g_width=8", "model.d_width=8", "eval.oscillation_window=8"]


@pytest.mark.parametrize("channels_last", [False, True])
def test_one_batched_call_equals_two_calls_with_per_source_statistics(channels_last: bool) -> None:
    torch.manual_seed(0)
    _, d = build_models(ModelConfig(name="dcgan", z_dim=16, g_width=8, d_width=8, depth=1), (3, 32, 32))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    d = d.to(memory_format=fmt)
    norms = [m for m in d.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 3 and all(isinstance(m, SourceBatchNorm2d) for m in norms)
    two = copy.deepcopy(d)
    real = torch.randn(16, 3, 32, 32).contiguous(memory_format=fmt)
    fake = (torch.randn(16, 3, 32, 32) * 0.3 + 0.5).contiguous(memory_format=fmt)  # other statistics than real's

    r2, f2 = two(real), two(fake)
    for m in norms:
        m.sources = 2
    both = d(torch.cat([real, fake]))
    for m in norms:
        m.sources = 1
    r1, f1 = both[:16], both[16:]
    torch.testing.assert_close(r1, r2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(f1, f2, rtol=1e-5, atol=1e-6)
    # one batch-norm over the concatenation would not give these: the test can tell the two apart
    pooled = copy.deepcopy(two)(torch.cat([real, fake]))
    assert not torch.allclose(pooled[:16], r2, atol=1e-3)

    loss1 = torch.nn.functional.softplus(-r1).mean() + torch.nn.functional.softplus(f1).mean()
    loss2 = torch.nn.functional.softplus(-r2).mean() + torch.nn.functional.softplus(f2).mean()
    loss1.backward()
    loss2.backward()
    for (name, p1), p2 in zip(d.named_parameters(), two.parameters()):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-4, atol=1e-6, msg=name)
    for (name, b1), b2 in zip(d.named_buffers(), two.buffers()):
        torch.testing.assert_close(b1, b2, rtol=1e-5, atol=1e-7, msg=name)  # running stats updated part after part
    # eval mode: the running statistics, whatever `sources` says
    d.eval()
    two.eval()
    torch.testing.assert_close(d(real), two(real), rtol=1e-5, atol=1e-6)


def _trainer(tmp: Path, *extra: str) -> Trainer:
    cfg = load(ROOT / "search_spaces" / "digits.yaml", TINY + list(extra))
    return Trainer(cfg, tmp, fixed_params(cfg.space))


def test_a_training_step_batched_equals_the_two_call_step(tmp_path: Path) -> None:
    """The whole iteration (D step, G step) from the same state: weights after it agree to float tolerance."""
    batched = _trainer(tmp_path / "a")
    assert batched.step_fn._source_norms, "DCGAN's D takes the batched path"
    two = _trainer(tmp_path / "b")
    two.step_fn._source_norms = []  # the two-call path: D(real), D(fake)
    for t in (batched, two):
        for s in range(3):
            t.step_fn(s, None)
    for (name, p1), p2 in zip(batched.d.named_parameters(), two.d.parameters()):
        torch.testing.assert_close(p1, p2, rtol=1e-4, atol=1e-5, msg=name)
    for (name, p1), p2 in zip(batched.g.named_parameters(), two.g.parameters()):
        torch.testing.assert_close(p1, p2, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("n_critic", [1, 3])
def test_fakes_used_only_detached_build_no_generator_graph(tmp_path: Path, n_critic: int) -> None:
    cfg = load(ROOT / "search_spaces" / "digits.yaml", TINY)
    params = fixed_params(cfg.space) | ({"balance": "n_critic", "n_critic": n_critic} if n_critic > 1 else {"balance": "none"})
    t = Trainer(cfg, tmp_path, params)
    assert t.balance.d_steps == n_critic
    grad_mode: list[bool] = []
    t.g.register_forward_hook(lambda *_: grad_mode.append(torch.is_grad_enabled()))
    t.step_fn(0, None)
    # n_critic D steps on fresh fakes without a graph, then G's own step with one; one G call when they share it
    assert grad_mode == ([False] * n_critic + [True] if n_critic > 1 else [True])
