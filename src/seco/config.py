"""One typed configuration for every command.

The configuration is a tree of dataclasses. Defaults for each data set live in
YAML files shipped inside the package (``seco/configs/*.yaml``); the command
line overrides any leaf with a dotted ``key=value`` pair, for example
``train.iterations=500 method.losses.lil.enabled=false``. OmegaConf merges the
layers and checks every key and value against the dataclass schema, so an
unknown key or a value of the wrong type is an error that names the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

__all__ = [
    "Config",
    "ConfigError",
    "apply_overrides",
    "available_configs",
    "config_from_dict",
    "config_yaml",
    "load_config",
    "save_config",
    "to_dict",
    "validate",
]


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
@dataclass
class SyntheticConfig:
    """Generator settings of the embedded co-occurrence benchmark."""

    seed: int = 0
    n_train: int = 1200
    n_val: int = 300
    image_size: int = 96


@dataclass
class DataConfig:
    """Where a data set lives and how training crops are made.

    ``format`` picks the reader: ``synthetic`` (the package generates a VOC
    layout folder into ``root`` or a cache folder), ``voc``, ``coco`` or
    ``folder`` (images plus a CSV/JSON label file). All readers feed one
    dataset class and one transform pipeline.
    """

    format: str = "synthetic"
    root: str = ""
    train_split: str = "train"
    val_split: str = "val"
    image_dir: str = "JPEGImages"
    mask_dir: str = "SegmentationClass"
    labels_file: str = ""
    annotations: str = ""
    class_names: list[str] = field(default_factory=list)
    crop_size: int = 96
    scale_range: list[float] = field(default_factory=lambda: [0.5, 2.0])
    num_workers: int = 0
    cooccurrence: list[list[str]] = field(default_factory=list)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


# ---------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------
@dataclass
class ModelConfig:
    """The timm ViT encoder and the heads on top of it.

    The model takes RGB images in [0, 1] and normalises them itself with
    ``pixel_mean`` / ``pixel_std`` (ImageNet's by default, as the public code
    uses for its ViT-B).
    """

    name: str = "vit_base_patch16_224"
    pretrained: bool = True
    weights: str = ""
    pixel_mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    pixel_std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    kwargs: dict[str, Any] = field(default_factory=dict)
    conv_stem: bool = False
    aux_layer: int = -3
    drop_path: float = 0.0
    freeze_pos_embed: bool = True
    proj_hidden: int = 2048
    proj_dim: int = 0
    seg_dilations: list[int] = field(default_factory=lambda: [6, 12, 18, 24])


# ---------------------------------------------------------------------------
# method
# ---------------------------------------------------------------------------
@dataclass
class CAMConfig:
    """CAM thresholds and the multi-scale, flipped inference of CAMs."""

    high_thr: float = 0.7
    low_thr: float = 0.25
    bkg_thr: float = 0.5
    scales: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.75, 1.5])
    flip: bool = True


@dataclass
class PARConfig:
    """Pixel-adaptive refinement of pseudo labels (ToCo/AFA PAR)."""

    enabled: bool = True
    num_iter: int = 10
    dilations: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 12, 24])
    w1: float = 0.3
    w2: float = 0.01
    downscale: int = 2


@dataclass
class DecompositionConfig:
    """Image decomposition into tagged local patches (paper Sec. 3.3)."""

    patch_size: int = 64
    num_patches: int = 10
    num_global: int = 2
    global_size: int = 224
    border_margin: int = 32
    phi: float = 0.2
    tag_switch_iter: int = 10000


@dataclass
class ReservoirConfig:
    """Tag memory pool of local-teacher keys (eq. 5)."""

    capacity: int = 4608


@dataclass
class TeacherConfig:
    """The local teacher: an EMA of the student's encoder and projection head (Sec. 3.5)."""

    momentum: float = 0.999


@dataclass
class PrototypeConfig:
    """Global-teacher class prototypes (eq. 3)."""

    momentum: float = 0.9
    start_iter: int = 600
    adaptive: bool = False


@dataclass
class RectificationConfig:
    """Similarity-based tag rectification (eqs. 6-7).

    ``mean_over='positives'`` is the paper's mean over same-tag keys;
    ``'all_keys'`` reproduces the public code, whose mean counts every other
    key as a zero similarity.
    """

    enabled: bool = True
    sigma: float = 0.5
    mean_over: str = "positives"


@dataclass
class LossTerm:
    """One loss: its weight, its switch and the iteration it starts at."""

    weight: float = 1.0
    enabled: bool = True
    start_iter: int = 0


@dataclass
class RegLossConfig(LossTerm):
    """Local-window bilateral energy on the segmentation softmax."""

    sigma_rgb: float = 15.0
    sigma_xy: float = 100.0
    scale: float = 0.5
    window: int = 5


@dataclass
class LossesConfig:
    """Weights, switches and schedule of every loss (eq. 9 plus seg/reg)."""

    cls: LossTerm = field(default_factory=lambda: LossTerm(1.0, True, 0))
    aux: LossTerm = field(default_factory=lambda: LossTerm(1.0, True, 0))
    ptc: LossTerm = field(default_factory=lambda: LossTerm(0.3, True, 0))
    lig: LossTerm = field(default_factory=lambda: LossTerm(0.5, True, 1000))
    lil: LossTerm = field(default_factory=lambda: LossTerm(0.5, True, 1000))
    seg: LossTerm = field(default_factory=lambda: LossTerm(0.12, True, 2000))
    reg: RegLossConfig = field(default_factory=lambda: RegLossConfig(0.05, True, 2000))
    tau_g: float = 0.1
    tau_l: float = 0.08


@dataclass
class MethodConfig:
    """Everything the SeCo training step needs (paper Sec. 3)."""

    cam: CAMConfig = field(default_factory=CAMConfig)
    par: PARConfig = field(default_factory=PARConfig)
    decomposition: DecompositionConfig = field(default_factory=DecompositionConfig)
    reservoir: ReservoirConfig = field(default_factory=ReservoirConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    prototypes: PrototypeConfig = field(default_factory=PrototypeConfig)
    rectification: RectificationConfig = field(default_factory=RectificationConfig)
    losses: LossesConfig = field(default_factory=LossesConfig)


# ---------------------------------------------------------------------------
# engine
# ---------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Optimisation, schedule, logging and checkpointing.

    ``supervision`` is ``weak`` (SeCo from image-level labels) or ``full``:
    the fully supervised counterpart of paper Table 5, the same network,
    schedule and data with the segmentation head trained on the ground-truth
    masks and every WSSS loss off (:mod:`seco.method.supervised`).
    """

    supervision: str = "weak"
    iterations: int = 20000
    batch_size: int = 4
    lr: float = 6e-5
    head_lr_mult: float = 10.0
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_iters: int = 1500
    warmup_ratio: float = 1e-6
    poly_power: float = 0.9
    amp: bool = False
    grad_clip: float = 0.0
    log_every: int = 20
    ckpt_every: int = 1000
    eval_every: int = 0
    device: str = "auto"
    threads: int = 0


@dataclass
class EvalConfig:
    """Inference settings of ``seco evaluate`` and ``seco predict``."""

    split: str = "val"
    batch_size: int = 8
    seg_scales: list[float] = field(default_factory=lambda: [1.0, 1.25, 1.5])
    flip: bool = True
    crf: bool = False
    crf_workers: int = 2
    max_images: int = 0
    num_overlays: int = 6
    num_embeddings: int = 300
    max_side: int = 1024


@dataclass
class Config:
    """The root of the configuration tree."""

    name: str = "seco"
    seed: int = 0
    out_dir: str = "runs/seco"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


# ---------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------
def available_configs() -> list[str]:
    """Names of the YAML configs shipped with the package (``voc``, ``ablations/no_lil``, ...)."""
    root = resources.files("seco") / "configs"
    names = [p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml")]
    sub = root / "ablations"
    names += [f"ablations/{p.name[: -len('.yaml')]}" for p in sub.iterdir() if p.name.endswith(".yaml")]
    return sorted(names)


def _read_yaml(name_or_path: str) -> Any:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        text = path.read_text()
        source = str(path)
    else:
        packaged = resources.files("seco") / "configs" / f"{name_or_path}.yaml"
        if not packaged.is_file():
            raise ConfigError(
                f"unknown config {name_or_path!r}; shipped configs: {', '.join(available_configs())}"
            )
        text = packaged.read_text()
        source = f"seco/configs/{name_or_path}.yaml"
    try:
        raw = OmegaConf.create(text)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{source}: {err}") from err
    return raw, source


def _merge(base: Any, layer: Any, source: str) -> Any:
    try:
        return OmegaConf.merge(base, layer)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        raise ConfigError(f"{source}: bad config key {key!r}: {str(err).splitlines()[0]}") from err


def _parse_overrides(overrides: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        pairs.append((key.strip(), value))
    return pairs


def load_config(name_or_path: str = "synthetic", overrides: Sequence[str] = ()) -> Config:
    """Build a validated :class:`Config`.

    Args:
        name_or_path: a shipped config name (``synthetic``, ``voc``, ``coco``,
            or an ablation such as ``ablations/no_lil``) or a YAML file path.
            A file may name a parent with a top-level ``base: NAME`` key.
        overrides: dotted ``key=value`` strings applied last.

    Raises:
        ConfigError: on an unknown key, a bad value or a missing file.
    """
    schema = OmegaConf.structured(Config)
    layers = []
    seen = set()
    current = name_or_path
    while current:
        if current in seen:
            raise ConfigError(f"config {current!r} names itself as its base")
        seen.add(current)
        raw, source = _read_yaml(current)
        parent = raw.pop("base", None) if raw is not None else None
        layers.append((raw if raw is not None else OmegaConf.create({}), source))
        current = parent
    merged = schema
    for raw, source in reversed(layers):
        merged = _merge(merged, raw, source)
    return _finish(merged, overrides)


def apply_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """A copy of ``cfg`` with dotted ``key=value`` overrides applied and validated."""
    return _finish(OmegaConf.structured(cfg), overrides)


def _finish(merged: Any, overrides: Sequence[str]) -> Config:
    for key, value in _parse_overrides(overrides):
        parent_key, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(merged, parent_key) if parent_key else merged
        free_form = OmegaConf.is_dict(parent) and OmegaConf.get_type(parent) is dict  # e.g. model.kwargs
        if not OmegaConf.is_dict(parent) or (leaf not in parent and not free_form):
            raise ConfigError(f"unknown config key {key!r}")
        try:
            OmegaConf.update(merged, key, yaml.safe_load(value) if value.strip() else value, merge=False)
        except OmegaConfBaseException as err:
            raise ConfigError(f"bad value {value!r} for config key {key!r}: {err.msg.splitlines()[0]}") from None
    try:
        cfg: Config = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as err:
        raise ConfigError(f"invalid config: {str(err).splitlines()[0]}") from err
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Check relations between values that types alone cannot express."""

    def need(ok: bool, key: str, why: str) -> None:
        if not ok:
            raise ConfigError(f"bad value for config key {key!r}: {why}")

    need(cfg.data.format in {"synthetic", "voc", "coco", "folder"}, "data.format",
         f"{cfg.data.format!r} is not one of synthetic, voc, coco, folder")
    need(cfg.data.crop_size > 0, "data.crop_size", "must be positive")
    need(len(cfg.data.scale_range) == 2 and 0 < cfg.data.scale_range[0] <= cfg.data.scale_range[1],
         "data.scale_range", "must be [low, high] with 0 < low <= high")
    need(len(cfg.model.pixel_mean) == 3, "model.pixel_mean", "needs 3 values (R, G, B)")
    need(len(cfg.model.pixel_std) == 3 and all(s > 0 for s in cfg.model.pixel_std), "model.pixel_std",
         "needs 3 positive values (R, G, B)")
    for pair in cfg.data.cooccurrence:
        need(len(pair) == 2, "data.cooccurrence", f"{pair!r} is not a [class, context] pair")
    cam = cfg.method.cam
    need(0 <= cam.low_thr <= cam.high_thr <= 1, "method.cam.low_thr", "need 0 <= low_thr <= high_thr <= 1")
    need(len(cam.scales) > 0 and all(s > 0 for s in cam.scales), "method.cam.scales", "need positive scales")
    dec = cfg.method.decomposition
    need(0 <= dec.phi < 1, "method.decomposition.phi", "must be in [0, 1)")
    need(dec.patch_size > 0, "method.decomposition.patch_size", "must be positive")
    need(2 * dec.border_margin < cfg.data.crop_size or dec.border_margin == 0,
         "method.decomposition.border_margin", "leaves no room for patch centres inside the crop")
    res = cfg.method.reservoir
    per_step = cfg.train.batch_size * (dec.num_patches + dec.num_global)
    need(res.capacity > 0 and res.capacity % per_step == 0, "method.reservoir.capacity",
         f"{res.capacity} must be a positive multiple of the keys pushed per step "
         f"(batch_size * (num_patches + num_global) = {per_step})")
    need(0 <= cfg.method.teacher.momentum < 1, "method.teacher.momentum", "must be in [0, 1)")
    need(0 <= cfg.method.prototypes.momentum < 1, "method.prototypes.momentum", "must be in [0, 1)")
    rect = cfg.method.rectification
    need(0 <= rect.sigma <= 1, "method.rectification.sigma", "is a fraction in [0, 1]")
    need(rect.mean_over in {"positives", "all_keys"}, "method.rectification.mean_over",
         "must be 'positives' (paper) or 'all_keys' (public code)")
    need(cfg.train.supervision in {"weak", "full"}, "train.supervision",
         f"{cfg.train.supervision!r} is not weak (image-level labels) or full (ground-truth masks)")
    terms = [getattr(cfg.method.losses, n) for n in ("cls", "aux", "ptc", "lig", "lil", "seg", "reg")]
    starts = any(t.enabled and t.weight > 0 and t.start_iter == 0 for t in terms)
    need(cfg.train.supervision == "full" or starts, "method.losses",
         "no loss is active at iteration 0; enable one (usually cls) with start_iter 0")
    need(cfg.method.losses.tau_g > 0 and cfg.method.losses.tau_l > 0, "method.losses.tau_g",
         "temperatures must be positive")
    tr = cfg.train
    need(tr.iterations > 0, "train.iterations", "must be positive")
    need(tr.batch_size > 0, "train.batch_size", "must be positive")
    need(tr.lr > 0, "train.lr", "must be positive")
    need(len(tr.betas) == 2, "train.betas", "needs two values")
    need(tr.device == "auto" or tr.device.split(":")[0] in {"cpu", "cuda", "mps"}, "train.device",
         "must be auto, cpu, cuda[:N] or mps")
    need(len(cfg.eval.seg_scales) > 0, "eval.seg_scales", "need at least one scale")
    need(cfg.eval.max_side >= 0, "eval.max_side", "must be >= 0 (0 = never shrink)")


def to_dict(cfg: Config) -> dict[str, Any]:
    """A plain nested dict of the config (for JSON, YAML and checkpoints)."""
    return dataclasses.asdict(cfg)


def config_yaml(cfg: Config) -> str:
    """The resolved config as YAML text."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML; ``load_config(path)`` reads it back."""
    Path(path).write_text(config_yaml(cfg))


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a validated :class:`Config` from :func:`to_dict` output (checkpoints)."""
    try:
        cfg: Config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), data))  # type: ignore[assignment]
    except OmegaConfBaseException as err:
        raise ConfigError(f"invalid stored config: {err}") from err
    validate(cfg)
    return cfg


