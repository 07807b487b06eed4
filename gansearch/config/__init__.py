"""Space files: schema, hyperparameter table, `when` conditions. Pure data: no torch here."""

from gansearch.config.hparams import HPARAMS, HParam
from gansearch.config.load import apply_override, load, read_yaml, validate
from gansearch.config.schema import DataConfig, Dist, EvalConfig, ModelConfig, SpaceFile, TrainConfig
from gansearch.config.space import applies, fixed_params, full_params, order

__all__ = [
    "HPARAMS", "HParam", "DataConfig", "Dist", "EvalConfig", "ModelConfig", "SpaceFile", "TrainConfig",
    "apply_override", "applies", "fixed_params", "full_params", "load", "order", "read_yaml", "validate",
]
