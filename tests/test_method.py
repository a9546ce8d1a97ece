"""The method object behind the training loop: which one a config builds, its surface, its state in checkpoints."""

from __future__ import annotations

import pytest
import torch

from seco.config import Config, apply_overrides
from seco.method.build import build_method, method_class
from seco.method.seco import SeCoMethod
from seco.method.supervised import SupervisedMethod
from seco.model import build_model

NAMES = ["background", "cat", "dog", "bird"]


def _seco(cfg: Config) -> SeCoMethod:
    torch.manual_seed(0)
    method = build_method(cfg, build_model(cfg.model, len(NAMES)), NAMES)
    assert isinstance(method, SeCoMethod)
    return method


def test_the_config_picks_the_method(tiny_cfg: Config) -> None:
    full = apply_overrides(tiny_cfg, ["train.supervision=full"])
    assert method_class(tiny_cfg) is SeCoMethod and method_class(full) is SupervisedMethod
    supervised = build_method(full, build_model(full.model, len(NAMES)), NAMES)
    assert isinstance(supervised, SupervisedMethod)
    assert supervised.state_dict() == {}  # no local teacher, no EMA (Table 5's ceiling)
    assert supervised.loss_starts(10) == {0: ["seg"]} and supervised.log_scalars() == {}
    assert supervised.end_of_run_warnings(10) == [] and not SupervisedMethod.wants_global_view(full.method)


def test_seco_announces_its_schedule_in_the_papers_spelling(tiny_cfg: Config) -> None:
    cfg = apply_overrides(tiny_cfg, ["method.losses.start_inclusive=true", "method.losses.lig.start_iter=4",
                                     "method.losses.lil.start_iter=4", "method.losses.reg.enabled=false"])
    assert _seco(cfg).loss_starts(20) == {0: ["aux", "cls", "PTC"], 1: ["seg"], 4: ["LiG", "LiL"]}
    assert _seco(cfg).loss_starts(4) == {0: ["aux", "cls", "PTC"], 1: ["seg"]}


def test_the_reservoir_mix_is_logged_by_class_name(tiny_cfg: Config) -> None:
    method = _seco(tiny_cfg)
    dim = method.reservoir.keys.shape[1]
    method.reservoir.push(torch.randn(4, dim), torch.tensor([0, 2, 2, -1]))
    assert method.log_scalars() == {"reservoir/background": pytest.approx(1 / 3), "reservoir/cat": 0.0,
                                    "reservoir/dog": pytest.approx(2 / 3), "reservoir/bird": 0.0}


def test_a_checkpoints_prototypes_come_back_by_class(tiny_cfg: Config) -> None:
    """What `seco explain` shows: the state keys of checkpoints already written (``prototypes.P``,
    ``prototypes.initialised``) are the ones the method writes and reads, and a state that does not fit
    is an error, never an empty panel."""
    method = _seco(apply_overrides(tiny_cfg, ["method.prototypes.update=per_image"]))
    method.prototypes.initialised.copy_(torch.tensor([False, True, True]))
    state = method.state_dict()
    assert {"prototypes.P", "prototypes.initialised"} <= set(state)
    found = SeCoMethod.trained_prototypes(state, NAMES)
    assert list(found) == ["dog", "bird"] and torch.equal(found["bird"], state["prototypes.P"][2])
    assert SeCoMethod.trained_prototypes({}, NAMES) == {}  # a fully supervised run keeps none
    renamed = {"prototypes.P": state["prototypes.P"], "prototypes.ready": state["prototypes.initialised"]}
    with pytest.raises(RuntimeError, match="initialised"):
        SeCoMethod.trained_prototypes(renamed, NAMES)


def test_reading_prototypes_leaves_the_random_stream_alone(tiny_cfg: Config) -> None:
    state = _seco(tiny_cfg).state_dict()
    torch.manual_seed(7)
    SeCoMethod.trained_prototypes(state, NAMES)
    after = torch.rand(1)
    torch.manual_seed(7)
    assert torch.equal(after, torch.rand(1))


def test_a_full_supervision_checkpoint_written_before_resumes(tiny_cfg: Config) -> None:
    """Checkpoints written before the method object kept SeCo's local teacher, reservoir and prototypes under
    train.supervision=full as well: the supervised method leaves them out instead of refusing the file."""
    old_state = _seco(tiny_cfg).state_dict()
    supervised = SupervisedMethod()
    supervised.load_state_dict(supervised.stored_state(old_state))
    assert _seco(tiny_cfg).stored_state(old_state) is old_state


def test_an_exclusive_start_is_announced_where_the_loss_switches_on(tiny_cfg: Config) -> None:
    """Under ``start_inclusive: false`` (the public preset) LiG and LiL at start 4 are first on at iteration 5."""
    cfg = apply_overrides(tiny_cfg, ["method.losses.start_inclusive=false", "method.losses.lig.start_iter=4",
                                     "method.losses.lil.start_iter=4", "method.losses.reg.enabled=false"])
    starts = _seco(cfg).loss_starts(20)
    assert starts[5] == ["LiG", "LiL"] and 4 not in starts
