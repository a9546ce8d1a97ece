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
    """CAM thresholds and the multi-scale, flipped inference of CAMs.

    ``flip_merge`` combines a view and its mirror: ``max`` (public code) or
    ``sum``; ``relu_after_resize`` applies the ReLU to the upsampled, merged
    maps (public code) instead of to the raw token maps.
    """

    high_thr: float = 0.7
    low_thr: float = 0.25
    bkg_thr: float = 0.5
    scales: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.75, 1.5])
    flip: bool = True
    flip_merge: str = "max"
    relu_after_resize: bool = True


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
    """Image decomposition into tagged local patches and global views (paper Sec. 3.3).

    Switches (docs/method.md has the table of public and paper values):
    ``centres`` (``public``: the crop's padding may hold patch centres;
    ``content``: never), ``patch_tags`` and ``global_tags`` (``public`` |
    ``paper`` tag rules), ``global_views`` (``crop_and_rrc``: the crop itself
    and a random resized crop of the whole image at crop size, keys from the
    student's class tokens through the teacher head; ``resized_copies``: two
    copies of the crop at ``global_size``, keys from the local teacher),
    ``q_flip`` (the weak view Aug_q flips each patch) and ``k_view``
    (``whole_crop``: Aug_k acts on the whole crop before the patches are cut;
    ``per_patch``: on each patch).
    """

    patch_size: int = 64
    num_patches: int = 10
    num_global: int = 2
    global_size: int = 224
    border_margin: int = 32
    phi: float = 0.2
    tag_switch_iter: int = 10000
    centres: str = "content"
    patch_tags: str = "paper"
    global_tags: str = "paper"
    global_views: str = "crop_and_rrc"
    q_flip: bool = True
    k_view: str = "per_patch"


@dataclass
class ReservoirConfig:
    """Tag memory pool of local-teacher keys (eq. 5).

    ``init``: ``public`` starts full of random keys tagged background (the
    public code's queue, normalised across entries); ``empty`` starts empty.
    ``push_tags``: ``raw`` (CAM tags) or ``rectified`` (after eq. 7).
    ``fill_before_start``: decompose, encode keys and fill the reservoir from
    the first iteration, before LiG/LiL start (the public code does).
    """

    capacity: int = 4608
    init: str = "empty"
    push_tags: str = "rectified"
    fill_before_start: bool = True


@dataclass
class TeacherConfig:
    """The local teacher: an EMA of the student's encoder and projection head (Sec. 3.5)."""

    momentum: float = 0.999


@dataclass
class PrototypeConfig:
    """Global-teacher class prototypes (eq. 3).

    ``space``: ``backbone`` (the encoder's class token, public code) or
    ``projection`` (the space of the queries q that LiG compares them with).
    ``update``: ``public`` (per image, unnormalised, rows renormalised after
    the batch, from a random start), ``per_image`` (eq. 3 per image, the first
    single-label image of a class initialises it) or ``batch_mean`` (one step
    per class with the batch mean). ``before_lig``: LiG sees the prototypes
    after this batch's update.
    """

    momentum: float = 0.9
    start_iter: int = 600
    adaptive: bool = False
    space: str = "projection"
    update: str = "per_image"
    before_lig: bool = True


@dataclass
class RectificationConfig:
    """Similarity-based tag rectification (eqs. 6-7).

    ``rule='paper'``: eq. 6-7 over the same-tag keys, a fired tag becomes -1
    (uncertain) when ``N_v / |R_+| > sigma``. ``rule='public'``: the public
    code's test on the max-shifted logits with non-positive pairs set to 0 and
    the mean over all keys; it fires when ``N_v / #{>= mean} > sigma`` (its
    sigma is 10) and sets the tag to 0 (background).
    """

    enabled: bool = True
    sigma: float = 0.5
    rule: str = "paper"


@dataclass
class LossTerm:
    """One loss: its weight, its switch and the iteration it starts at."""

    weight: float = 1.0
    enabled: bool = True
    start_iter: int = 0


@dataclass
class PTCLossConfig(LossTerm):
    """ToCo's patch token contrast on the final tokens.

    ``label_grid``: ``resized_cam`` (the aux CAM resized to the token grid,
    then thresholded) or ``vote`` (majority vote of the full-size label map).
    ``crop_box``: ``pixels`` applies the crop box's pixel coordinates to the
    token grid (public code), ``tokens`` scales it to token units. ``counts``:
    ``plus_one`` divides by the pair count + 1 (public), ``exact`` by the count.
    """

    label_grid: str = "resized_cam"
    crop_box: str = "tokens"
    counts: str = "exact"


@dataclass
class LiGLossConfig(LossTerm):
    """LiG (eq. 4): ``tags`` are the ``rectified`` or ``raw`` patch tags; ``classes`` (the set P_s)
    are the classes among the ``tags`` or the batch's image ``labels``."""

    tags: str = "rectified"
    classes: str = "tags"


@dataclass
class LiLLossConfig(LossTerm):
    """LiL (eq. 8): ``formula`` ``paper`` (log-probability of the positives over the reservoir) or
    ``public`` (the public code's arithmetic, reproduced term for term)."""

    formula: str = "paper"


@dataclass
class SegLossConfig(LossTerm):
    """Balanced seg CE: ``empty_kind`` ``halve`` (0.5 (bg + fg), a crop with one kind counts half, public)
    or ``drop`` (the mean of the kinds present)."""

    empty_kind: str = "halve"


@dataclass
class RegLossConfig(LossTerm):
    """Bilateral energy on the segmentation softmax.

    ``formula='public'``: the public code's gated dense energy
    ``-1e-7 / B sum_i g_i S_i . (W S)_i`` with the exact dense Gaussian kernel
    W (the public code approximates it with a C++ permutohedral filter),
    gate ``g = 1 - max prob`` (1 where the pseudo label is ignored); at
    ``scale``. ``formula='window'``: the mean Potts energy over a ``window``.
    """

    sigma_rgb: float = 15.0
    sigma_xy: float = 100.0
    scale: float = 0.5
    window: int = 5
    formula: str = "public"


@dataclass
class LossesConfig:
    """Weights, switches and schedule of every loss (eq. 9 plus seg/reg).

    ``start_inclusive``: a loss with ``start_iter`` A > 0 is on from
    iteration A (true) or only after it, from A + 1 (false, public code).
    """

    cls: LossTerm = field(default_factory=lambda: LossTerm(1.0, True, 0))
    aux: LossTerm = field(default_factory=lambda: LossTerm(1.0, True, 0))
    ptc: PTCLossConfig = field(default_factory=lambda: PTCLossConfig(0.3, True, 0))
    lig: LiGLossConfig = field(default_factory=lambda: LiGLossConfig(0.5, True, 1000))
    lil: LiLLossConfig = field(default_factory=lambda: LiLLossConfig(0.5, True, 1000))
    seg: SegLossConfig = field(default_factory=lambda: SegLossConfig(0.12, True, 2000))
    reg: RegLossConfig = field(default_factory=lambda: RegLossConfig(0.05, True, 2000))
    tau_g: float = 0.1
    tau_l: float = 0.08
    start_inclusive: bool = False


@dataclass
class MethodConfig:
    """Everything the SeCo training step needs (paper Sec. 3).

    ``fidelity`` (``public`` | ``paper``) names the preset that set the
    switches below (``seco/configs/fidelity/<name>.yaml``); any switch can
    still be set on its own after it.
    """

    fidelity: str = "paper"
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

    The lr follows a linear warmup, then ``(1 - it / N) ** poly_power`` with
    N = ``iterations`` (``iterations + 1`` with ``poly_plus_one``).
    ``decay_all`` applies weight decay to every parameter (public code);
    false spares norms, biases, position embeddings and the class token.
    """

    iterations: int = 20000
    batch_size: int = 4
    lr: float = 6e-5
    head_lr_mult: float = 10.0
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_iters: int = 1500
    warmup_ratio: float = 1e-6
    poly_power: float = 0.9
    poly_plus_one: bool = False
    decay_all: bool = True
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
    merged = OmegaConf.structured(Config)
    for raw, source in reversed(layers):
        merged = _merge(merged, raw, source)
    fidelity = _fidelity_override(overrides) or merged.method.fidelity
    merged = _merge(OmegaConf.structured(Config), _preset(fidelity), f"fidelity preset {fidelity!r}")
    for raw, source in reversed(layers):
        merged = _merge(merged, raw, source)
    return _finish(merged, overrides)


def apply_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """A copy of ``cfg`` with dotted ``key=value`` overrides applied and validated.

    A ``method.fidelity`` override first applies its preset over every switch
    of ``cfg``; the other overrides apply after it.
    """
    merged = OmegaConf.structured(cfg)
    fidelity = _fidelity_override(overrides)
    if fidelity:
        merged = _merge(merged, _preset(fidelity), f"fidelity preset {fidelity!r}")
    return _finish(merged, overrides)


FIDELITIES = ("public", "paper")


def _fidelity_override(overrides: Sequence[str]) -> str | None:
    """The last ``method.fidelity=...`` among the overrides, if any."""
    values = [value.strip() for key, value in _parse_overrides(overrides) if key == "method.fidelity"]
    return values[-1] if values else None


def _preset(fidelity: str) -> Any:
    """The switches a fidelity preset sets (``seco/configs/fidelity/<fidelity>.yaml``)."""
    if fidelity not in FIDELITIES:
        raise ConfigError(f"bad value for config key 'method.fidelity': {fidelity!r} is not one of "
                          f"{', '.join(FIDELITIES)}")
    raw, _ = _read_yaml(f"fidelity/{fidelity}")
    return raw


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
    need(rect.sigma >= 0, "method.rectification.sigma", "must be >= 0 (paper rule: a fraction; public rule: a ratio)")
    _check_choices(cfg, need)
    terms = [getattr(cfg.method.losses, n) for n in ("cls", "aux", "ptc", "lig", "lil", "seg", "reg")]
    need(any(t.enabled and t.weight > 0 and t.start_iter == 0 for t in terms), "method.losses",
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


CHOICES: dict[str, tuple[str, ...]] = {
    "method.fidelity": FIDELITIES,
    "method.cam.flip_merge": ("max", "sum"),
    "method.decomposition.centres": ("public", "content"),
    "method.decomposition.patch_tags": ("public", "paper"),
    "method.decomposition.global_tags": ("public", "paper"),
    "method.decomposition.global_views": ("crop_and_rrc", "resized_copies"),
    "method.decomposition.k_view": ("whole_crop", "per_patch"),
    "method.reservoir.init": ("public", "empty"),
    "method.reservoir.push_tags": ("raw", "rectified"),
    "method.prototypes.space": ("backbone", "projection"),
    "method.prototypes.update": ("public", "per_image", "batch_mean"),
    "method.rectification.rule": ("public", "paper"),
    "method.losses.ptc.label_grid": ("resized_cam", "vote"),
    "method.losses.ptc.crop_box": ("pixels", "tokens"),
    "method.losses.ptc.counts": ("plus_one", "exact"),
    "method.losses.lig.tags": ("rectified", "raw"),
    "method.losses.lig.classes": ("tags", "labels"),
    "method.losses.lil.formula": ("public", "paper"),
    "method.losses.seg.empty_kind": ("halve", "drop"),
    "method.losses.reg.formula": ("public", "window"),
}


def _check_choices(cfg: Config, need: Any) -> None:
    """Every switch of :data:`CHOICES` holds one of its values."""
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(OmegaConf.structured(cfg), key)
        need(value in allowed, key, f"{value!r} is not one of {', '.join(allowed)}")


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


