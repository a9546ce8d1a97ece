"""One typed configuration for every command.

The configuration is a tree of dataclasses (:mod:`seco.config.schema`, the
losses' sections in :mod:`seco.config.losses`). Defaults for each data set
live in YAML files shipped inside the package (``seco/configs/*.yaml``); the
command line overrides any leaf with a dotted ``key=value`` pair, for example
``train.iterations=500 method.losses.lil.enabled=false``. OmegaConf merges the
layers and checks every key and value against the dataclass schema, so an
unknown key or a value of the wrong type is an error that names the key
(:mod:`seco.config.load`); :mod:`seco.config.validate` then checks the values
(ranges, relations between sections) and :mod:`seco.config.serialise` writes a
config as a dict, YAML text or file and compares two.
"""

from seco.config.errors import ConfigError
from seco.config.load import apply_overrides, available_configs, load_config
from seco.config.losses import (
    LiGLossConfig,
    LiLLossConfig,
    LossesConfig,
    LossTerm,
    PTCLossConfig,
    RegLossConfig,
    SegLossConfig,
)
from seco.config.schema import (
    FIDELITIES,
    CAMConfig,
    Config,
    DataConfig,
    DecompositionConfig,
    EvalConfig,
    MethodConfig,
    ModelConfig,
    PARConfig,
    PrototypeConfig,
    RectificationConfig,
    ReservoirConfig,
    SyntheticConfig,
    TeacherConfig,
    TrainConfig,
)
from seco.config.serialise import config_diff, config_from_dict, config_yaml, save_config, to_dict
from seco.config.validate import CHOICES, validate

__all__ = [
    "CHOICES",
    "FIDELITIES",
    "CAMConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "DecompositionConfig",
    "EvalConfig",
    "LiGLossConfig",
    "LiLLossConfig",
    "LossTerm",
    "LossesConfig",
    "MethodConfig",
    "ModelConfig",
    "PARConfig",
    "PTCLossConfig",
    "PrototypeConfig",
    "RectificationConfig",
    "RegLossConfig",
    "ReservoirConfig",
    "SegLossConfig",
    "SyntheticConfig",
    "TeacherConfig",
    "TrainConfig",
    "apply_overrides",
    "available_configs",
    "config_diff",
    "config_from_dict",
    "config_yaml",
    "load_config",
    "save_config",
    "to_dict",
    "validate",
]
