"""The one door from the training loop into the method: which method a config trains, built and ready.

``train.supervision=weak`` trains SeCo (:class:`~seco.method.seco.SeCoMethod`),
``full`` its fully supervised ceiling (:class:`~seco.method.supervised.SupervisedMethod`,
paper Table 5). :mod:`seco.engine.train` imports this module and no other of
:mod:`seco.method`; what it calls is the surface of
:class:`~seco.method.base.TrainingMethod`.
"""

from __future__ import annotations

from collections.abc import Sequence

from seco.config import Config
from seco.method.base import StepOutput, TrainingMethod
from seco.method.seco import SeCoMethod
from seco.method.supervised import SupervisedMethod
from seco.model import SeCoNet

__all__ = ["StepOutput", "TrainingMethod", "build_method", "method_class"]


def method_class(cfg: Config) -> type[TrainingMethod]:
    """The method ``cfg`` trains, before it is built: its class-level calls say what the data must carry."""
    return SupervisedMethod if cfg.train.supervision == "full" else SeCoMethod


def build_method(cfg: Config, net: SeCoNet, class_names: Sequence[str]) -> TrainingMethod:
    """The method ``cfg`` trains for the student ``net``, on the student's device.

    SeCo's local teacher starts as a copy of ``net`` (so build the method right
    after the model, before any step); its reservoir and prototypes draw their
    random start from the global generator. With ``train.compile`` the local
    teacher's encoder is compiled in that mode, as the loop compiles the
    student's.
    """
    if method_class(cfg) is SupervisedMethod:
        return SupervisedMethod()
    method = SeCoMethod(net, cfg.method, class_names).to(next(net.parameters()).device)
    if cfg.train.compile:
        method.teacher["encoder"].compile(mode=cfg.train.compile)
    return method
