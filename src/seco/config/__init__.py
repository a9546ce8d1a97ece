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

Adding a method switch takes three edits. Declare the field in its section of
:mod:`seco.config.schema` (or :mod:`seco.config.losses`) with its values on
it, ``rule: str = choice("paper", ("public", "paper"))``: the check that a
value is one of them walks the schema (:func:`switch_choices`), and the
section's docstring says what each value does. If the public code and the
paper differ on it, give it its value in both fidelity presets,
``src/seco/configs/fidelity/public.yaml`` and ``paper.yaml`` (the schema's
default is the paper's; ``tests/test_config.py`` checks both presets set the
same keys). Then add its row to ``docs/method.md``: the fidelity table, or
"Beyond both presets" for a switch neither has. A check that relates it to
other keys goes in :mod:`seco.config.validate`. A new loss is a
:class:`LossTerm` section of :class:`LossesConfig`; :data:`LOSS_NAMES`, which
the schedule and the checks read, follows from it.
"""

from seco.config.choices import choice, switch_choices
from seco.config.errors import ConfigError
from seco.config.load import apply_overrides, available_configs, load_config
from seco.config.losses import (
    LOSS_NAMES,
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
from seco.config.validate import validate

__all__ = [
    "LOSS_NAMES",
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
    "choice",
    "config_diff",
    "config_from_dict",
    "config_yaml",
    "load_config",
    "save_config",
    "switch_choices",
    "to_dict",
    "validate",
]
