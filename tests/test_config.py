"""The typed config: shipped YAMLs, dotted overrides, validation, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from seco.config import (
    ConfigError,
    apply_overrides,
    available_configs,
    config_diff,
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
    assert (cfg.model.proj_hidden, cfg.model.proj_dim) == (2048, 0)  # 0: the encoder's width, 768 for ViT-B
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
                                    "method.losses.lil.enabled=false", "model.kwargs.depth=3"])
    assert cfg.train.iterations == 7 and cfg.method.cam.scales == [1.0, 0.5]
    assert cfg.method.losses.lil.enabled is False and cfg.model.kwargs["depth"] == 3


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


def test_fidelity_presets_cover_the_same_switches_and_the_schema_defaults_are_the_paper_preset() -> None:
    from omegaconf import OmegaConf

    from seco.config import Config
    from seco.config.load import _preset

    def leaves(node, prefix: str = "") -> dict:
        flat = {}
        for key, value in node.items():
            if OmegaConf.is_dict(value):
                flat.update(leaves(value, f"{prefix}{key}."))
            else:
                flat[f"{prefix}{key}"] = value
        return flat

    public, paper = leaves(_preset("public")), leaves(_preset("paper"))
    assert public.keys() == paper.keys() and len(public) > 20
    schema = OmegaConf.structured(Config)
    assert {k: OmegaConf.select(schema, k) for k in paper} == paper
    assert [k for k in public if public[k] != paper[k]]  # they do differ


def test_a_switch_set_after_the_fidelity_wins() -> None:
    cfg = load_config("synthetic", ["method.fidelity=public", "method.rectification.sigma=3"])
    assert (cfg.method.rectification.rule, cfg.method.rectification.sigma) == ("public", 3.0)
    voc = load_config("voc")
    assert voc.method.fidelity == "public" and voc.method.losses.lil.formula == "public"
    assert load_config("voc", ["method.fidelity=paper"]).method.losses.lil.formula == "paper"


def _shipped_preset(fidelity: str) -> dict:
    """Dotted key -> value of every switch the shipped preset file sets, read as plain YAML."""
    from importlib import resources

    import yaml

    def flat(tree: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in tree.items():
            out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
        return out

    return flat(yaml.safe_load((resources.files("seco") / "configs" / "fidelity" / f"{fidelity}.yaml").read_text()))


@pytest.mark.parametrize("name", ["voc", "coco"])
@pytest.mark.parametrize("fidelity", ["public", "paper"])
def test_voc_and_coco_carry_every_switch_of_their_preset(name: str, fidelity: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Issue 25: voc.yaml's pos_embed_antialias won over fidelity public. Every key a preset sets must resolve
    to the preset's value, both when the data-set config names the fidelity and when an override does."""
    from omegaconf import OmegaConf

    preset = _shipped_preset(fidelity)
    assert "model.pos_embed_antialias" in preset and len(preset) > 20
    runs = [load_config(name, [f"method.fidelity={fidelity}"])]
    if fidelity == "public":  # what voc.yaml (and coco.yaml through it) name themselves
        runs.append(load_config(name))
    caplog.set_level("INFO", logger="seco")
    for cfg in runs:
        tree = OmegaConf.structured(cfg)
        assert cfg.method.fidelity == fidelity
        assert {key: OmegaConf.select(tree, key) for key in preset} == preset
    assert not caplog.records  # nothing overridden, nothing said


def test_a_shipped_config_that_sets_a_preset_switch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import seco.config.load as config

    read = config._read_yaml

    def with_switch(name: str):
        layer = read(name)
        if name == "voc":
            layer.raw.model.pos_embed_antialias = True
        return layer

    monkeypatch.setattr(config, "_read_yaml", with_switch)
    for name in ("voc", "coco"):  # coco through its base
        with pytest.raises(ConfigError, match=r"seco/configs/voc.yaml sets model.pos_embed_antialias"):
            load_config(name)


def test_a_user_override_of_a_preset_switch_is_said_in_one_line(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="seco")
    cfg = load_config("voc", ["model.pos_embed_antialias=true"])
    assert cfg.model.pos_embed_antialias is True
    assert caplog.messages == ["model.pos_embed_antialias=true overrides fidelity public"]
    caplog.clear()
    own = tmp_path / "mine.yaml"  # the preset's own value (rule: public) overrides nothing
    own.write_text("base: coco\nmodel: {pos_embed_antialias: true}\nmethod: {rectification: {rule: public}}\n")
    load_config(str(own))
    assert caplog.messages == ["model.pos_embed_antialias=true overrides fidelity public"]
    caplog.clear()
    load_config(str(own), ["method.fidelity=paper", "method.cam.flip_merge=sum"])
    assert caplog.messages == ["method.cam.flip_merge=sum, method.rectification.rule=public, "
                               "model.pos_embed_antialias=true override fidelity paper"]
    caplog.clear()
    saved = tmp_path / "saved.yaml"  # a run's config.yaml sets every key, all at the preset's values
    save_config(load_config("voc"), saved)
    apply_overrides(load_config(str(saved)), ["eval.crf=false"])
    assert caplog.messages == []
    apply_overrides(load_config(str(saved)), ["method.losses.lil.formula=paper"])
    assert caplog.messages == ["method.losses.lil.formula=paper overrides fidelity public"]


def test_the_command_line_says_which_preset_switch_it_overrides(capsys: pytest.CaptureFixture) -> None:
    from seco.cli import main

    assert main(["configs", "voc", "model.pos_embed_antialias=true"]) == 0
    captured = capsys.readouterr()
    assert "model.pos_embed_antialias=true overrides fidelity public" in captured.err
    assert "pos_embed_antialias: true" in captured.out


IMPOSSIBLE = [
    ("train.batch_size=0", "train.batch_size"),
    ("train.iterations=-5", "train.iterations"),
    ("train.lr=0", "train.lr"),
    ("train.log_every=0", "train.log_every"),
    ("train.ckpt_every=0", "train.ckpt_every"),
    ("train.warmup_ratio=2", "train.warmup_ratio"),
    ("train.betas=[0.9, 1.5]", "train.betas"),
    ("train.grad_clip=-1", "train.grad_clip"),
    ("eval.batch_size=0", "eval.batch_size"),
    ("eval.max_images=-1", "eval.max_images"),
    ("eval.seg_scales=[1.0, 0]", "eval.seg_scales"),
    ("data.crop_size=0", "data.crop_size"),
    ("data.crop_size=200", "data.crop_size"),  # larger than the 96 px synthetic image at its largest scale
    ("data.num_workers=-1", "data.num_workers"),
    ("data.on_error=ignore", "data.on_error"),
    ("data.synthetic.image_size=8", "data.synthetic.image_size"),
    ("data.synthetic.n_train=0", "data.synthetic.n_train"),
    ("data.class_names=[background]", "data.class_names"),
    ("model.proj_hidden=0", "model.proj_hidden"),
    ("model.seg_dilations=[]", "model.seg_dilations"),
    ("model.aux_layer=-1", "model.aux_layer"),
    ("model.aux_layer=7", "model.aux_layer"),  # the synthetic ViT has 4 blocks
    ("method.cam.low_thr=0.8", "method.cam.low_thr"),  # above high_thr 0.7
    ("method.cam.bkg_thr=1.5", "method.cam.bkg_thr"),
    ("method.par.num_iter=0", "method.par.num_iter"),
    ("method.par.dilations=[0]", "method.par.dilations"),
    ("method.decomposition.patch_size=0", "method.decomposition.patch_size"),
    ("method.decomposition.patch_size=128", "method.decomposition.patch_size"),  # larger than the 96 px crop
    ("method.decomposition.num_patches=0", "method.decomposition.num_patches"),
    ("method.decomposition.phi=1", "method.decomposition.phi"),
    ("method.decomposition.class_tag_thr=0.5", "method.decomposition.class_tag_thr"),  # below cam.high_thr 0.7
    ("method.decomposition.class_tag_thr=1.0", "method.decomposition.class_tag_thr"),
    ("method.reservoir.capacity=100", "method.reservoir.capacity"),
    ("method.teacher.momentum=1", "method.teacher.momentum"),
    ("method.prototypes.momentum=-0.1", "method.prototypes.momentum"),
    ("method.losses.lig.weight=-1", "method.losses.lig.weight"),
    ("method.losses.tau_l=0", "method.losses.tau_l"),
    ("method.losses.reg.window=4", "method.losses.reg.window"),
    ("method.losses.reg.kernel=bogus", "method.losses.reg.kernel"),
    ("out_dir=''", "out_dir"),
    ("method.fidelity=exact", "method.fidelity"),
    ("method.losses.lil.formula=both", "method.losses.lil.formula"),
    ("method.decomposition.num_global=3", "method.decomposition.num_global"),  # crop_and_rrc gives 2 views
    ("method.rectification.sigma=-1", "method.rectification.sigma"),
]


@pytest.mark.parametrize(("override", "named"), IMPOSSIBLE)
def test_every_impossible_value_is_refused_up_front_naming_its_key(override: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("synthetic", [override])
    assert f"'{named}'" in str(caught.value)


def test_the_loss_names_come_from_the_schema() -> None:
    from seco.config import LOSS_NAMES, LossesConfig, LossTerm

    assert LOSS_NAMES == ("cls", "aux", "ptc", "lig", "lil", "seg", "reg")
    assert all(isinstance(getattr(LossesConfig(), name), LossTerm) for name in LOSS_NAMES)


def test_a_switch_declares_its_values_on_its_field_and_a_bad_one_is_named_with_them() -> None:
    from seco.config import Config, switch_choices

    switches = switch_choices(Config)
    assert switches["method.losses.reg.kernel"] == ("auto", "blocked", "sdpa", "lattice")
    assert switches["data.format"] == ("synthetic", "voc", "coco", "folder")
    assert "method.losses.reg.sigma_rgb" not in switches and len(switches) > 20
    with pytest.raises(ConfigError) as caught:
        load_config("synthetic", ["method.losses.lil.formula=both"])
    assert str(caught.value) == ("bad value for config key 'method.losses.lil.formula': "
                                 "'both' is not one of public, paper")


def test_prototypes_from_patches_need_the_keys_projection_space() -> None:
    assert load_config("synthetic", ["method.prototypes.source=patches"]).method.prototypes.space == "projection"
    with pytest.raises(ConfigError, match=r"'method\.prototypes\.source'.*space=projection"):
        load_config("synthetic", ["method.prototypes.source=patches", "method.prototypes.space=backbone"])


def test_config_diff_names_changed_leaves_and_fills_missing_keys_with_defaults() -> None:
    cfg = load_config("synthetic")
    stored = to_dict(cfg)
    del stored["eval"]["max_side"]  # written by an older version
    changed = load_config("synthetic", ["train.lr=0.5", "model.kwargs.depth=3"])
    lr = load_config("synthetic").train.lr
    assert config_diff(stored, changed) == {"model.kwargs.depth": (4, 3), "train.lr": (lr, 0.5)}
    assert config_diff(stored, cfg) == {}
