"""Style transfer, a second task beside the GAN trainer (`task: style_transfer`), with the trainer's
contract: `train(cfg, out_dir, params, report=...)`, records, checkpoints, sample images. Never imports
Ray, Optuna or MLflow."""

from gansearch.style.trainer import StyleTrainer, train

__all__ = ["StyleTrainer", "train"]
