"""One typed configuration for every command (:mod:`seco.config.schema`)."""

from seco.config.schema import *  # noqa: F403
from seco.config.schema import (  # noqa: F401
    CHOICES,
    CAMConfig,
    DataConfig,
    DecompositionConfig,
    EvalConfig,
    LiGLossConfig,
    LiLLossConfig,
    LossesConfig,
    LossTerm,
    MethodConfig,
    ModelConfig,
    PARConfig,
    PrototypeConfig,
    PTCLossConfig,
    RectificationConfig,
    RegLossConfig,
    ReservoirConfig,
    SegLossConfig,
    SyntheticConfig,
    TeacherConfig,
    TrainConfig,
    __all__,
)
