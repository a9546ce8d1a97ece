"""The typed config: shipped YAMLs, dotted overrides, validation, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from seco.config import (
    ConfigError,
    apply_overrides,
    available_configs,
    config_from_dict,
    load_config,
    save_config,
    to_dict,
)


def test_every_shipped_config_loads() -> None:
    names = available_configs()
    assert {"synthetic", "voc", "coco", "ablations/baseline", "ablations/no_lig", "ablations/no_lil",
            "ablations/no_rect", "ablations/seco"} <= set(names)
    for name in names:
        load_config(name)


def test_voc_yaml_holds_the_official_defaults() -> None:
    cfg = load_config("voc")
    assert cfg.data.crop_size == 448 and cfg.data.scale_range == [0.5, 2.0]
    assert cfg.model.name.startswith("vit_base_patch16_224") and cfg.model.aux_layer == -3
    assert cfg.model.freeze_pos_embed and cfg.model.drop_path == 0.0
    assert (cfg.model.proj_hidden, cfg.model.proj_dim) == (2048, 768)
    assert cfg.model.seg_dilations == [6, 12, 18, 24]
    tr = cfg.train
    assert (tr.iterations, tr.batch_size, tr.lr, tr.head_lr_mult, tr.weight_decay) == (20000, 4, 6e-5, 10.0, 0.01)
    assert (tr.warmup_iters, tr.poly_power, tr.betas) == (1500, 0.9, [0.9, 0.999])
    m = cfg.method
    assert (m.decomposition.patch_size, m.decomposition.num_patches, m.decomposition.num_global) == (64, 10, 2)
    assert (m.decomposition.phi, m.decomposition.tag_switch_iter) == (0.2, 10000)
    assert (m.reservoir.capacity, m.teacher.momentum) == (4608, 0.999)
    assert (m.prototypes.momentum, m.prototypes.start_iter) == (0.9, 600)
    assert (m.cam.high_thr, m.cam.low_thr, m.cam.bkg_thr) == (0.7, 0.25, 0.5)
    assert m.cam.scales == [1.0, 0.5, 0.75, 1.5]
    assert (m.par.num_iter, m.par.dilations, m.par.w1, m.par.w2) == (10, [1, 2, 4, 8, 12, 24], 0.3, 0.01)
    losses = m.losses
    weights = {n: getattr(losses, n).weight for n in ("cls", "aux", "ptc", "lig", "lil", "seg", "reg")}
    assert weights == {"cls": 1.0, "aux": 1.0, "ptc": 0.3, "lig": 0.5, "lil": 0.5, "seg": 0.12, "reg": 0.05}
    starts = {n: getattr(losses, n).start_iter for n in ("ptc", "lig", "lil", "seg", "reg")}
    assert starts == {"ptc": 0, "lig": 1000, "lil": 1000, "seg": 2000, "reg": 2000}
    assert (losses.tau_g, losses.tau_l) == (0.1, 0.08)
    assert (losses.reg.sigma_rgb, losses.reg.sigma_xy, losses.reg.scale) == (15.0, 100.0, 0.5)
    assert cfg.eval.seg_scales == [1.0, 1.25, 1.5]


def test_coco_yaml_differs_where_the_facts_say() -> None:
    cfg = load_config("coco")
    assert cfg.train.iterations == 80000 and cfg.data.format == "coco"
    m = cfg.method
    assert (m.prototypes.momentum, m.prototypes.start_iter, m.decomposition.tag_switch_iter) == (0.99, 6000, 50000)
    assert (m.cam.high_thr, m.cam.low_thr, m.cam.bkg_thr) == (0.65, 0.25, 0.45)
    assert m.cam.scales == [1.0, 0.5, 0.75, 1.25, 1.5]
    assert (m.losses.ptc.weight, m.losses.lil.weight) == (0.2, 0.3)
    starts = {n: getattr(m.losses, n).start_iter for n in ("cls", "ptc", "lig", "lil", "seg", "reg")}
    assert starts == {"cls": 0, "ptc": 8000, "lig": 12000, "lil": 12000, "seg": 16000, "reg": 16000}
    assert m.reservoir.capacity == 4608 and cfg.data.crop_size == 448


def test_ablations_switch_the_paper_table2_components() -> None:
    base = load_config("ablations/baseline").method.losses
    assert base.cls.enabled and base.aux.enabled
    assert not any(getattr(base, n).enabled for n in ("ptc", "lig", "lil", "seg", "reg"))
    assert not load_config("ablations/no_lig").method.losses.lig.enabled
    assert not load_config("ablations/no_lil").method.losses.lil.enabled
    assert not load_config("ablations/no_rect").method.rectification.enabled
    assert load_config("ablations/seco") .method == load_config("synthetic").method


def test_dotted_overrides_are_typed() -> None:
    cfg = load_config("synthetic", ["train.iterations=7", "method.cam.scales=[1.0, 0.5]",
                                    "method.losses.lil.enabled=false", "model.kwargs.depth=2"])
    assert cfg.train.iterations == 7 and cfg.method.cam.scales == [1.0, 0.5]
    assert cfg.method.losses.lil.enabled is False and cfg.model.kwargs["depth"] == 2


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("train.iteratons=5", "train.iteratons"),
        ("train.iterations=many", "train.iterations"),
        ("method.rectification.mean_over=median", "method.rectification.mean_over"),
        ("method.reservoir.capacity=100", "method.reservoir.capacity"),
        ("data.format=zip", "data.format"),
        ("nonsense.key=1", "nonsense.key"),
        ("model.weights_sha256=abc123", "model.weights_sha256"),
    ],
)
def test_bad_override_names_the_key(override: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config("synthetic", [override])


def test_override_without_equals_is_an_error() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        load_config("synthetic", ["train.iterations"])


def test_unknown_key_in_a_yaml_file_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("base: synthetic\ntrain:\n  iteratons: 3\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml.*train\.iteratons"):
        load_config(str(path))


def test_unknown_config_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="synthetic"):
        load_config("pascal")


def test_saved_config_loads_back_identically(tmp_path: Path) -> None:
    cfg = load_config("coco", ["train.iterations=9"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(str(tmp_path / "config.yaml")) == cfg
    assert config_from_dict(to_dict(cfg)) == cfg
    assert apply_overrides(cfg, ["eval.crf=true"]).eval.crf is True


def test_a_loss_must_be_active_from_the_start() -> None:
    with pytest.raises(ConfigError, match="method.losses"):
        load_config("ablations/baseline", ["method.losses.cls.enabled=false", "method.losses.aux.start_iter=5"])
