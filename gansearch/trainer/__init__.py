"""The GAN trainer, usable alone: `train(cfg, out_dir)`. Never imports Ray, Optuna or MLflow."""

from gansearch.trainer.loop import Trainer, train

__all__ = ["Trainer", "train"]
