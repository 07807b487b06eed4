"""Each hyperparameter as the live training objects hold it, not as the trial was asked to use it: the
optimizers' learning rates and betas, the loss and balance objects, the batch the step draws, the
arguments a plug-in model was built with. run.json records it as `effective`, so a test (and a reader)
can check that every value a sampler suggested reached the network that trains."""

from __future__ import annotations

from typing import Any

from gansearch.config.fields import SECTIONS
from gansearch.trainer.losses import LOSSES


def effective_params(trainer: Any) -> dict[str, Any]:
    bal, step = trainer.balance, trainer.step_fn
    g0, d0 = trainer.opt_g.param_groups[0], trainer.opt_d.param_groups[0]
    loss = next(name for name, obj in LOSSES.items() if obj is trainer.loss)  # the object the step calls
    out: dict[str, Any] = {"model": trainer.model, "loss": loss, "balance": bal.name,
                           "lr_g": g0["lr"], "beta1": g0["betas"][0], "beta2": g0["betas"][1],
                           "weight_decay": g0["weight_decay"], "gp_weight": step.gp_weight}
    if bal.name == "ttur":
        out["ttur_ratio"] = d0["lr"] / g0["lr"]
    else:
        out["lr_d"] = d0["lr"]
    if bal.name == "n_critic":
        out["n_critic"] = bal.d_steps
    if bal.name == "label_smoothing":
        out["smoothing"] = 1.0 - bal.real_target
    if bal.name == "skip_d":
        out["d_threshold"] = float(bal.params["d_threshold"])  # what SkipD.train_d compares D's loss with
    if bal.name == "instance_noise":
        out["noise_std"] = bal.noise_std(0)
        out["noise_anneal_steps"] = int(bal.params["noise_anneal_steps"])
    if trainer.model == "progressive":
        out["steps_per_resolution"] = int(trainer.hp["steps_per_resolution"])
        out["fade_in"] = float(trainer.hp["fade_in"])
    if hasattr(trainer, "ema_decay"):
        out["ema_decay"] = float(trainer.ema_decay)
    for section in SECTIONS:
        for field, value in getattr(trainer.cfg, section).model_dump().items():
            out[f"{section}.{field}"] = value
    out["train.batch_size"] = step.batch_size  # what each iteration draws
    out.update(getattr(trainer.d, "kwargs", {}))  # a plug-in's own parameters, as it was called
    return out
