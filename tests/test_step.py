"""The SeCo training step on CPU with the tiny model."""

from __future__ import annotations

import pytest
import torch

from seco.config import Config, apply_overrides
from seco.data import build_dataset
from seco.engine.loader import TrainStream
from seco.engine.train import build_training
from seco.method.seco import SeCoMethod


def _run(cfg: Config, iteration: int = 5):
    data = build_dataset(cfg.data, "train", train=True, global_view=SeCoMethod.wants_global_view(cfg.method))
    run = build_training(cfg, torch.device("cpu"), data.num_classes, list(data.class_names))
    batch = next(TrainStream(data, cfg.train.batch_size, cfg.seed).iterate(0))
    return run, batch, lambda: run.method.step(run.net, batch, iteration, run.generator)


def test_full_step_gives_finite_losses_and_moves_reservoir_and_prototypes(tiny_cfg: Config) -> None:
    run, batch, step = _run(tiny_cfg)
    assert int(run.method.reservoir.filled) == 0 and not run.method.prototypes.initialised.any()
    out = step()
    assert set(out.terms) == {"cls", "aux", "ptc", "lig", "lil", "seg", "reg"}
    assert all(torch.isfinite(v) for v in out.terms.values()) and torch.isfinite(out.loss)
    keys_per_step = tiny_cfg.train.batch_size * (tiny_cfg.method.decomposition.num_patches
                                                 + tiny_cfg.method.decomposition.num_global)
    assert int(run.method.reservoir.filled) == keys_per_step
    single_label = batch["labels"].sum(1) == 1
    classes = batch["labels"][single_label].sum(0) > 0
    assert torch.equal(run.method.prototypes.initialised, classes)
    out.loss.backward()
    assert run.net.classifier.conv.weight.grad is not None
    assert run.net.projector.mlp[0].weight.grad.abs().sum() > 0
    for key in ("rectified", "tag_background", "tag_class", "tag_uncertain", "pseudo_ignore", "tag_agreement_gt"):
        assert 0.0 <= out.stats[key] <= 1.0
    teacher_before = [p.clone() for p in run.method.teacher.parameters()]
    run.optimizer.step()
    run.method.after_optimizer_step(run.net)
    assert any(not torch.equal(a, b) for a, b in zip(teacher_before, run.method.teacher.parameters()))


def test_schedule_keeps_late_losses_off(tiny_cfg: Config) -> None:
    cfg = apply_overrides(tiny_cfg, ["method.losses.seg.start_iter=10", "method.losses.reg.start_iter=10",
                                     "method.losses.lig.start_iter=8"])
    out = _run(cfg, iteration=5)[2]()
    assert set(out.terms) == {"cls", "aux", "ptc", "lil"}


def test_baseline_is_the_same_step_with_only_the_classification_losses(tiny_cfg: Config) -> None:
    cfg = apply_overrides(tiny_cfg, [f"method.losses.{n}.enabled=false" for n in ("ptc", "lig", "lil", "seg", "reg")])
    run, _, step = _run(cfg)
    out = step()
    assert set(out.terms) == {"cls", "aux"}
    assert int(run.method.reservoir.filled) == 0
    assert not run.method.prototypes.initialised.any()  # no contrast loss reads them: none kept (18 ms/step on CUDA)


def test_public_and_paper_fidelity_give_different_contrast_losses_on_the_same_batch(tiny_cfg: Config) -> None:
    outs = {}
    for fidelity in ("public", "paper"):
        cfg = apply_overrides(tiny_cfg, [f"method.fidelity={fidelity}"])
        outs[fidelity] = _run(cfg)[2]()
    public, paper = outs["public"].terms, outs["paper"].terms
    for same in ("cls", "aux", "seg"):  # the same student and CAMs: these do not depend on the preset
        torch.testing.assert_close(public[same], paper[same])
    for different in ("ptc", "lil", "lig", "reg"):  # counts and crop box; formula; prototype space; tag rules
        assert different in public and different in paper
    assert not torch.allclose(public["lil"], paper["lil"]) and not torch.allclose(public["ptc"], paper["ptc"])


def test_the_reservoir_fills_before_the_contrast_losses_start_only_when_asked(tiny_cfg: Config) -> None:
    late = ["method.losses.lig.start_iter=10", "method.losses.lil.start_iter=10"]
    for fill in (True, False):
        cfg = apply_overrides(tiny_cfg, [*late, f"method.reservoir.fill_before_start={str(fill).lower()}"])
        run, _, step = _run(cfg, iteration=5)
        out = step()
        assert "lig" not in out.terms and "lil" not in out.terms
        assert (int(run.method.reservoir.filled) > 0) == fill


def test_rectified_or_raw_tags_enter_the_reservoir(tiny_cfg: Config) -> None:
    """sigma 0 makes the paper rule fire on every query with a positive below its mean: those keys enter the
    reservoir as uncertain (-1) only with push_tags=rectified."""
    pushed = {}
    for push in ("rectified", "raw"):
        cfg = apply_overrides(tiny_cfg, ["method.fidelity=paper", "method.rectification.sigma=0.0",
                                         f"method.reservoir.push_tags={push}"])
        run, _, step = _run(cfg)
        step()
        step()  # the second step has reservoir keys to compare with
        pushed[push] = (run.method.reservoir.snapshot()[1] == -1).sum()
    assert pushed["rectified"] > pushed["raw"]


def test_loss_start_after_or_at_the_start_iteration(tiny_cfg: Config) -> None:
    from seco.method.schedule import active_weights

    for inclusive, expected in ((False, {"cls", "aux"}), (True, {"cls", "aux", "seg"})):
        cfg = apply_overrides(tiny_cfg, [f"method.losses.start_inclusive={str(inclusive).lower()}",
                                         "method.losses.seg.start_iter=5", "method.losses.reg.enabled=false",
                                         "method.losses.ptc.enabled=false", "method.losses.lig.enabled=false",
                                         "method.losses.lil.enabled=false"])
        assert set(active_weights(cfg.method.losses, 5)) == expected
        assert "seg" in active_weights(cfg.method.losses, 6)


@pytest.mark.parametrize("fidelity", ["public", "paper"])
def test_a_training_step_waits_on_the_device_never(tiny_cfg: Config, fidelity: str) -> None:
    """No .item(), boolean mask or other host read in a whole optimisation step (logging steps aside):
    counted on the CPU with the operators that synchronise a GPU. The optimizer's step counters live on
    the host on a GPU too and are left out."""
    from seco.profiling import SyncCounter

    run, batch, _ = _run(apply_overrides(tiny_cfg, [f"method.fidelity={fidelity}"]))
    run.step(run.net, batch, 5)  # the reservoir fills on the first step
    counter = SyncCounter()
    optimizer_step = run.optimizer.step

    def uncounted(*args, **kwargs):
        counter.active = False
        try:
            return optimizer_step(*args, **kwargs)
        finally:
            counter.active = True

    run.optimizer.step = uncounted
    with counter:
        out = run.step(run.net, batch, 6)
    assert counter.count == 0, counter.ops
    assert {"lig", "lil", "seg", "reg", "ptc"} <= set(out.terms)
    with SyncCounter() as reading:
        run.guard.check()
    assert reading.count == 1  # the one read at a logging step


@pytest.mark.parametrize("fidelity", ["public", "paper"])
def test_full_step_and_backward_run_under_bf16_autocast(tiny_cfg: Config, fidelity: str) -> None:
    """`train.amp` wraps the step in bf16 autocast on a GPU; CPU autocast casts the same matrix products, so a
    dtype clash (the dense energy's float32 `bmm(out=)` once crashed every VOC bf16 step on CUDA) shows here."""
    cfg = apply_overrides(tiny_cfg, [f"method.fidelity={fidelity}"])
    run, _, step = _run(cfg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = step()
    assert set(out.terms) == {"cls", "aux", "ptc", "lig", "lil", "seg", "reg"}
    assert all(torch.isfinite(v) for v in out.terms.values())
    out.loss.backward()
    assert run.net.projector.mlp[0].weight.grad.abs().sum() > 0
