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
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seco.atomic import atomic_write

__all__ = [
    "Config",
    "ConfigError",
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


log = logging.getLogger(__name__)


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
    layout folder into a cache folder, or reads one made by ``seco
    make-synthetic`` at ``root``), ``voc``, ``coco`` or ``folder`` (images
    plus a CSV/JSON label file). All readers feed one dataset class and one
    transform pipeline.

    ``on_error`` says what a bad sample (a corrupt image, a mask of the wrong
    size, a class id out of range) does: ``raise`` stops with an error that
    names the file; ``skip`` leaves the sample out, counts it in the progress
    line and lists it in ``bad_samples.txt`` in the run folder.
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
    on_error: str = "raise"
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

    Backbone weights come from ``weights`` (a local file, or ``seco:NAME`` for
    a file shipped in the package), else from timm's Hugging Face weights when
    ``pretrained``. Every encoder tensor must load unless ``weights_strict`` is
    false. A run fills in ``weights_sha256`` and ``weights_tensors`` (what was
    loaded) in its saved config; a ``weights_sha256`` set by the user is checked
    against the file instead, so a saved config re-runs only on the same file.
    ``pos_embed_antialias`` picks timm's antialiased resize of the position
    embedding (true) or the public code's plain bicubic one (false).

    The projection head O of eq. 2 is an MLP ``D-proj_hidden-proj_hidden-
    proj_dim`` on the class token; ``proj_dim`` 0 (the default) is the
    encoder's width D, so another backbone needs no other setting. An explicit
    ``proj_dim`` wins, and must equal D under ``method.prototypes.space=backbone``
    (the public code's prototypes are class tokens, compared with q).
    """

    name: str = "vit_base_patch16_224"
    pretrained: bool = True
    weights: str = ""
    weights_strict: bool = True
    weights_sha256: str = ""
    weights_tensors: int = 0
    pixel_mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    pixel_std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    kwargs: dict[str, Any] = field(default_factory=dict)
    conv_stem: bool = False
    aux_layer: int = -3
    drop_path: float = 0.0
    freeze_pos_embed: bool = True
    pos_embed_antialias: bool = False
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
    ``per_patch``: on each patch). ``class_tag_thr`` (not in the paper or
    the public code; None, the default of both presets, is off): a patch
    keeps its class tag only when more than phi of its pixels score that
    class above this CAM threshold, else it becomes uncertain
    (:func:`seco.method.tags.confident_class_tags`).
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
    class_tag_thr: float | None = None


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
    after this batch's update. ``source`` (``images`` in both presets):
    ``images``, eq. 3 from the class tokens of whole images; ``patches``
    (not in the paper or the public code; needs ``space=projection``), from
    the local teacher's keys of the patches tagged a class, each patch an
    "image" of its tag's class.
    """

    momentum: float = 0.9
    start_iter: int = 600
    adaptive: bool = False
    space: str = "projection"
    update: str = "per_image"
    before_lig: bool = True
    source: str = "images"


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
    ``kernel`` computes the public formula's dense Gaussian sum: ``blocked``
    (blocks of the pair matrix, the reference), ``sdpa`` (as attention, within
    1e-4 of it) or ``auto`` (the device's fastest measured; docs/performance.md).
    """

    sigma_rgb: float = 15.0
    sigma_xy: float = 100.0
    scale: float = 0.5
    window: int = 5
    formula: str = "public"
    kernel: str = "auto"


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
    ``compile``: ``""`` (off) or a ``torch.compile`` mode for the encoders
    (``default``, ``reduce-overhead`` with CUDA graphs, ``max-autotune``).

    ``supervision`` is ``weak`` (SeCo from image-level labels) or ``full``:
    the fully supervised counterpart of paper Table 5, the same network,
    schedule and data with the segmentation head trained on the ground-truth
    masks and every WSSS loss off (:mod:`seco.method.supervised`).

    ``eval_every`` N > 0 scores ``eval.split`` every N iterations (its first
    ``eval.max_images`` images, no CRF) into TensorBoard: the mIoU of each
    output and the overlays of the first ``eval.num_overlays`` images
    (:mod:`seco.evaluation.eval_log`); 0 leaves it to the evaluation after training.
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
    poly_plus_one: bool = False
    decay_all: bool = True
    compile: str = ""
    amp: bool = False
    grad_clip: float = 0.0
    log_every: int = 20
    ckpt_every: int = 1000
    eval_every: int = 0
    device: str = "auto"
    threads: int = 0


@dataclass
class EvalConfig:
    """Inference settings of ``seco evaluate`` and ``seco predict``.

    ``cam_scales`` and ``cam_flip`` are the multi-scale, flipped inference of
    the ``cam`` and ``mask`` outputs; empty (``[]``, ``null``) keeps the
    training step's ``method.cam.scales`` and ``method.cam.flip``. A config
    whose training step uses fewer scales for speed (the synthetic one) can
    still evaluate its CAMs the paper's way.
    """

    split: str = "val"
    batch_size: int = 8
    cam_scales: list[float] = field(default_factory=list)
    cam_flip: bool | None = None
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


@dataclass
class _Layer:
    """One YAML file of a config: its contents, where it came from, and whether the package ships it."""

    raw: Any
    source: str
    packaged: bool


def _read_yaml(name_or_path: str) -> _Layer:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        text = path.read_text()
        source, packaged = str(path), False
    else:
        shipped = resources.files("seco") / "configs" / f"{name_or_path}.yaml"
        if not shipped.is_file():
            raise ConfigError(
                f"unknown config {name_or_path!r}; shipped configs: {', '.join(available_configs())}"
            )
        text = shipped.read_text()
        source, packaged = f"seco/configs/{name_or_path}.yaml", True
    try:
        raw = OmegaConf.create(text)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{source}: {err}") from err
    return _Layer(raw if raw is not None else OmegaConf.create({}), source, packaged)


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

    The layers, lowest first: the schema defaults, the fidelity preset named
    by ``method.fidelity`` (``seco/configs/fidelity/<name>.yaml``), the config
    file and its bases, the overrides. A shipped config never sets a switch of
    the presets, so under ``fidelity: public`` or ``paper`` every such switch
    holds the preset's value unless the user's own file or an override sets
    it; that is then said in one line (:func:`_announce_preset_overrides`).

    Args:
        name_or_path: a shipped config name (``synthetic``, ``voc``, ``coco``,
            or an ablation such as ``ablations/no_lil``) or a YAML file path.
            A file may name a parent with a top-level ``base: NAME`` key.
        overrides: dotted ``key=value`` strings applied last.

    Raises:
        ConfigError: on an unknown key, a bad value, a missing file, or a
            shipped config that sets a fidelity switch.
    """
    layers: list[_Layer] = []
    seen = set()
    current = name_or_path
    while current:
        if current in seen:
            raise ConfigError(f"config {current!r} names itself as its base")
        seen.add(current)
        layer = _read_yaml(current)
        current = layer.raw.pop("base", None)
        layers.append(layer)
    layers.reverse()  # the root base first
    merged = OmegaConf.structured(Config)
    for layer in layers:
        merged = _merge(merged, layer.raw, layer.source)
    fidelity = _fidelity_override(overrides) or merged.method.fidelity
    preset = _preset(fidelity)
    for layer in layers:
        if layer.packaged:
            _refuse_preset_switches(layer, preset)
    merged = _merge(OmegaConf.structured(Config), preset, f"fidelity preset {fidelity!r}")
    for layer in layers:
        merged = _merge(merged, layer.raw, layer.source)
    cfg = _finish(merged, overrides)
    user_keys = [key for layer in layers if not layer.packaged for key in _leaves(_plain(layer.raw))]
    _announce_preset_overrides(cfg, fidelity, preset, [*user_keys, *(key for key, _ in _parse_overrides(overrides))])
    return cfg


def apply_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """A copy of ``cfg`` with dotted ``key=value`` overrides applied and validated.

    A ``method.fidelity`` override first applies its preset over every switch
    of ``cfg``; the other overrides apply after it. An override that moves a
    switch of the config's preset off the preset's value is said in one line.
    """
    merged = OmegaConf.structured(cfg)
    fidelity = _fidelity_override(overrides)
    if fidelity:
        merged = _merge(merged, _preset(fidelity), f"fidelity preset {fidelity!r}")
    result = _finish(merged, overrides)
    fidelity = fidelity or result.method.fidelity
    _announce_preset_overrides(result, fidelity, _preset(fidelity), [key for key, _ in _parse_overrides(overrides)])
    return result


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
    return _read_yaml(f"fidelity/{fidelity}").raw


def _plain(node: Any) -> dict[str, Any]:
    """An OmegaConf node as a plain nested dict."""
    return OmegaConf.to_container(node)  # type: ignore[return-value]


def _refuse_preset_switches(layer: _Layer, preset: Any) -> None:
    """A shipped config must leave every switch of the fidelity presets to the preset.

    Otherwise it would silently win over ``method.fidelity`` (issue 25:
    voc.yaml's ``model.pos_embed_antialias: true`` under ``fidelity: public``).
    """
    switches = set(_leaves(_plain(layer.raw))) & set(_leaves(_plain(preset)))
    if switches:
        raise ConfigError(f"{layer.source} sets {', '.join(sorted(switches))}, a switch of the fidelity presets "
                          "(seco/configs/fidelity/); a shipped config leaves it to method.fidelity")


def _yaml_scalar(value: Any) -> str:
    """``value`` as YAML writes it in a flow line (``true``, ``null``, ``10.0``, ``[1, 2]``)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).removesuffix("\n...\n").strip()


def _announce_preset_overrides(cfg: Config, fidelity: str, preset: Any, keys: Sequence[str]) -> None:
    """Say in one line which switches of the ``fidelity`` preset the user's ``keys`` moved off its values.

    ``keys`` are the dotted keys a user file or the overrides set. A switch
    set to the preset's own value overrides nothing and is not named.
    """
    tree, given = OmegaConf.structured(cfg), set(keys)
    moved = []
    for switch, value in _leaves(_plain(preset)).items():
        now = OmegaConf.select(tree, switch)
        if switch in given and now != value:
            moved.append(f"{switch}={_yaml_scalar(now)}")
    if moved:
        verb = "overrides" if len(moved) == 1 else "override"
        log.info("%s %s fidelity %s", ", ".join(moved), verb, fidelity)


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


def _need(ok: bool, key: str, why: str) -> None:
    if not ok:
        raise ConfigError(f"bad value for config key {key!r}: {why}")


def _positive(values: dict[str, float]) -> None:
    for key, value in values.items():
        _need(value > 0, key, f"must be positive, got {value}")


def _non_negative(values: dict[str, float]) -> None:
    for key, value in values.items():
        _need(value >= 0, key, f"must be >= 0, got {value}")


def _fraction(key: str, value: float, upper_open: bool = False) -> None:
    ok = 0 <= value < 1 if upper_open else 0 <= value <= 1
    _need(ok, key, f"must be in [0, {'1)' if upper_open else '1]'}, got {value}")


def _validate_data(data: DataConfig) -> None:
    _need(data.format in {"synthetic", "voc", "coco", "folder"}, "data.format",
          f"{data.format!r} is not one of synthetic, voc, coco, folder")
    _need(data.on_error in {"raise", "skip"}, "data.on_error", f"{data.on_error!r} is not one of raise, skip")
    for key in ("train_split", "val_split"):
        _need(bool(getattr(data, key).strip()), f"data.{key}", "must not be empty")
    _positive({"data.crop_size": data.crop_size})
    _non_negative({"data.num_workers": data.num_workers})
    _need(len(data.scale_range) == 2 and 0 < data.scale_range[0] <= data.scale_range[1],
          "data.scale_range", "must be [low, high] with 0 < low <= high")
    if data.class_names:
        _need(len(data.class_names) >= 2, "data.class_names", "needs background plus at least one class")
        _need(len(set(data.class_names)) == len(data.class_names), "data.class_names", "names must be unique")
    for pair in data.cooccurrence:
        _need(len(pair) == 2, "data.cooccurrence", f"{pair!r} is not a [class, context] pair")
    syn = data.synthetic
    _positive({"data.synthetic.n_train": syn.n_train})
    _non_negative({"data.synthetic.n_val": syn.n_val, "data.synthetic.seed": syn.seed})
    _need(syn.image_size >= 32, "data.synthetic.image_size", f"must be at least 32 pixels, got {syn.image_size}")
    if data.format == "synthetic":
        largest = syn.image_size * data.scale_range[1]
        _need(data.crop_size <= largest, "data.crop_size",
              f"{data.crop_size} is larger than every rescaled image (data.synthetic.image_size "
              f"{syn.image_size} x data.scale_range max {data.scale_range[1]} = {largest:g}); every crop would "
              "be mostly padding")


def _validate_model(model: ModelConfig) -> None:
    _need(bool(model.name.strip()), "model.name", "must name a timm ViT")
    sha = model.weights_sha256
    _need(sha == "" or (len(sha) == 64 and all(c in "0123456789abcdef" for c in sha.lower())),
          "model.weights_sha256", "must be empty (filled in by the run) or the 64 hex digits of a sha256")
    _need(len(model.pixel_mean) == 3, "model.pixel_mean", "needs 3 values (R, G, B)")
    _need(len(model.pixel_std) == 3 and all(s > 0 for s in model.pixel_std), "model.pixel_std",
          "needs 3 positive values (R, G, B)")
    _fraction("model.drop_path", model.drop_path, upper_open=True)
    _positive({"model.proj_hidden": model.proj_hidden})
    _non_negative({"model.proj_dim": model.proj_dim})
    _need(len(model.seg_dilations) > 0 and all(d > 0 for d in model.seg_dilations), "model.seg_dilations",
          "need at least one positive dilation")
    depth = model.kwargs.get("depth")
    if isinstance(depth, int):
        _need(-depth <= model.aux_layer < depth - 1 and model.aux_layer != -1, "model.aux_layer",
              f"{model.aux_layer} must name a block before the last of the {depth} (model.kwargs.depth)")
    else:
        _need(model.aux_layer != -1, "model.aux_layer", "must name a block before the last one")


def _validate_method(method: MethodConfig, data: DataConfig, batch_size: int, supervised: bool) -> None:
    cam = method.cam
    _need(0 <= cam.low_thr <= cam.high_thr <= 1, "method.cam.low_thr",
          f"need 0 <= low_thr <= high_thr <= 1, got low_thr {cam.low_thr} and high_thr {cam.high_thr}")
    _fraction("method.cam.bkg_thr", cam.bkg_thr)
    _need(len(cam.scales) > 0 and all(s > 0 for s in cam.scales), "method.cam.scales", "need positive scales")
    par = method.par
    _positive({"method.par.num_iter": par.num_iter, "method.par.downscale": par.downscale,
               "method.par.w1": par.w1})
    _non_negative({"method.par.w2": par.w2})
    _need(len(par.dilations) > 0 and all(d > 0 for d in par.dilations), "method.par.dilations",
          "need at least one positive dilation")
    dec = method.decomposition
    _positive({"method.decomposition.patch_size": dec.patch_size, "method.decomposition.num_patches": dec.num_patches,
               "method.decomposition.global_size": dec.global_size})
    _non_negative({"method.decomposition.num_global": dec.num_global,
                   "method.decomposition.border_margin": dec.border_margin,
                   "method.decomposition.tag_switch_iter": dec.tag_switch_iter})
    _fraction("method.decomposition.phi", dec.phi, upper_open=True)
    _need(method.prototypes.source != "patches" or method.prototypes.space == "projection",
          "method.prototypes.source", "patches needs method.prototypes.space=projection (the keys' space)")
    _need(dec.class_tag_thr is None or method.cam.high_thr <= dec.class_tag_thr < 1,
          "method.decomposition.class_tag_thr",
          f"{dec.class_tag_thr} must be at least method.cam.high_thr ({method.cam.high_thr}) and below 1, "
          "or null (off)")
    _need(dec.patch_size <= data.crop_size, "method.decomposition.patch_size",
          f"{dec.patch_size} is larger than the training crop (data.crop_size {data.crop_size})")
    _need(2 * dec.border_margin < data.crop_size or dec.border_margin == 0,
          "method.decomposition.border_margin", "leaves no room for patch centres inside the crop")
    _need(dec.global_views != "crop_and_rrc" or dec.num_global == 2, "method.decomposition.num_global",
          f"global_views=crop_and_rrc gives 2 global views (the crop and a random resized crop), got {dec.num_global}")
    per_step = batch_size * (dec.num_patches + dec.num_global)
    capacity = method.reservoir.capacity
    _need(capacity > 0 and capacity % per_step == 0, "method.reservoir.capacity",
          f"{capacity} must be a positive multiple of the keys pushed per step "
          f"(train.batch_size * (num_patches + num_global) = {per_step})")
    _fraction("method.teacher.momentum", method.teacher.momentum, upper_open=True)
    _fraction("method.prototypes.momentum", method.prototypes.momentum, upper_open=True)
    _non_negative({"method.prototypes.start_iter": method.prototypes.start_iter})
    rect = method.rectification
    _non_negative({"method.rectification.sigma": rect.sigma})  # paper rule: a fraction; public rule: a ratio
    _validate_losses(method.losses, supervised)


def _validate_losses(losses: LossesConfig, supervised: bool) -> None:
    names = ("cls", "aux", "ptc", "lig", "lil", "seg", "reg")
    for name in names:
        term, key = getattr(losses, name), f"method.losses.{name}"
        _non_negative({f"{key}.weight": term.weight, f"{key}.start_iter": term.start_iter})
    terms = [getattr(losses, n) for n in names]
    _need(supervised or any(t.enabled and t.weight > 0 and t.start_iter == 0 for t in terms), "method.losses",
          "no loss is active at iteration 0; enable one (usually cls) with start_iter 0")
    _positive({"method.losses.tau_g": losses.tau_g, "method.losses.tau_l": losses.tau_l,
               "method.losses.reg.sigma_rgb": losses.reg.sigma_rgb, "method.losses.reg.sigma_xy": losses.reg.sigma_xy})
    _need(0 < losses.reg.scale <= 1, "method.losses.reg.scale", f"must be in (0, 1], got {losses.reg.scale}")
    _need(losses.reg.window >= 3 and losses.reg.window % 2 == 1, "method.losses.reg.window",
          f"must be odd and >= 3, got {losses.reg.window}")


def _validate_train(tr: TrainConfig) -> None:
    _positive({"train.iterations": tr.iterations, "train.batch_size": tr.batch_size, "train.lr": tr.lr,
               "train.head_lr_mult": tr.head_lr_mult, "train.log_every": tr.log_every,
               "train.ckpt_every": tr.ckpt_every})
    _non_negative({"train.weight_decay": tr.weight_decay, "train.warmup_iters": tr.warmup_iters,
                   "train.poly_power": tr.poly_power, "train.grad_clip": tr.grad_clip,
                   "train.eval_every": tr.eval_every, "train.threads": tr.threads})
    _fraction("train.warmup_ratio", tr.warmup_ratio)
    _need(len(tr.betas) == 2 and all(0 <= b < 1 for b in tr.betas), "train.betas", "needs two values in [0, 1)")
    _need(tr.device == "auto" or tr.device.split(":")[0] in {"cpu", "cuda", "mps"}, "train.device",
          "must be auto, cpu, cuda[:N] or mps")


def _validate_eval(ev: EvalConfig) -> None:
    _need(bool(ev.split.strip()), "eval.split", "must not be empty")
    _positive({"eval.batch_size": ev.batch_size})
    _non_negative({"eval.crf_workers": ev.crf_workers, "eval.max_images": ev.max_images,
                   "eval.num_overlays": ev.num_overlays, "eval.num_embeddings": ev.num_embeddings})
    _need(len(ev.seg_scales) > 0 and all(s > 0 for s in ev.seg_scales), "eval.seg_scales",
          "need at least one positive scale")
    _need(all(s > 0 for s in ev.cam_scales), "eval.cam_scales", "need positive scales ([] = method.cam.scales)")
    _need(ev.max_side >= 0, "eval.max_side", "must be >= 0 (0 = never shrink)")


def validate(cfg: Config) -> None:
    """Check every value that can be known to be impossible before a run starts.

    Types are checked by the schema already; this checks ranges (positive
    sizes, fractions in [0, 1]), orders (``low_thr <= high_thr``) and relations
    between sections (a reservoir that holds whole steps of keys, patches that
    fit in the crop). The error names the key and says what is wrong.
    """
    _need(bool(cfg.out_dir.strip()), "out_dir", "must name the run folder")
    _validate_data(cfg.data)
    _validate_model(cfg.model)
    _validate_train(cfg.train)  # before the method: the reservoir check divides by train.batch_size
    _validate_method(cfg.method, cfg.data, cfg.train.batch_size, cfg.train.supervision == "full")
    _check_choices(cfg)
    _validate_eval(cfg.eval)


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
    "method.prototypes.source": ("images", "patches"),
    "method.rectification.rule": ("public", "paper"),
    "method.losses.ptc.label_grid": ("resized_cam", "vote"),
    "method.losses.ptc.crop_box": ("pixels", "tokens"),
    "method.losses.ptc.counts": ("plus_one", "exact"),
    "method.losses.lig.tags": ("rectified", "raw"),
    "method.losses.lig.classes": ("tags", "labels"),
    "method.losses.lil.formula": ("public", "paper"),
    "method.losses.seg.empty_kind": ("halve", "drop"),
    "method.losses.reg.formula": ("public", "window"),
    "method.losses.reg.kernel": ("auto", "blocked", "sdpa"),
    "train.compile": ("", "default", "reduce-overhead", "max-autotune"),
    "train.supervision": ("weak", "full"),
}


def _check_choices(cfg: Config) -> None:
    """Every switch of :data:`CHOICES` holds one of its values."""
    tree = OmegaConf.structured(cfg)
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(tree, key)
        _need(value in allowed, key, f"{value!r} is not one of {', '.join(allowed)}")


def to_dict(cfg: Config) -> dict[str, Any]:
    """A plain nested dict of the config (for JSON, YAML and checkpoints)."""
    return dataclasses.asdict(cfg)


def config_yaml(cfg: Config) -> str:
    """The resolved config as YAML text."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically); ``load_config(path)`` reads it back."""
    atomic_write(path, config_yaml(cfg))


def _leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of every leaf of a nested dict (lists are leaves)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    leaves: dict[str, Any] = {}
    for key, value in tree.items():
        leaves.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return leaves


def config_diff(stored: dict[str, Any], cfg: Config) -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose value differs between a stored config dict and ``cfg``: ``{key: (stored, now)}``.

    ``stored`` is :func:`to_dict` output, for example a checkpoint's config;
    keys it lacks (an older version) count at their defaults. A ``model.proj_dim``
    of 0 on one side and the encoder's width on the other is no difference: both
    build the same projection (a run saved before the VOC config left it unset).
    """
    try:
        filled = OmegaConf.to_container(OmegaConf.merge(OmegaConf.structured(Config), stored))
    except OmegaConfBaseException:
        filled = stored
    old, new = _leaves(filled), _leaves(to_dict(cfg))
    missing = object()
    diff = {key: (old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys())
            if old.get(key, missing) != new.get(key, missing)}
    if "model.proj_dim" in diff:
        width = _projection_width(old)
        if width is not None and width == _projection_width(new):
            del diff["model.proj_dim"]
    return diff


def _projection_width(leaves: dict[str, Any]) -> int | None:
    """The width of q (eq. 2) that a config's leaves build: ``model.proj_dim``, or for 0 the encoder's
    (None when the encoder cannot be built here, e.g. a name this timm does not know)."""
    from seco.model.backbone import encoder_width  # the model package imports this module

    if leaves.get("model.proj_dim"):
        return int(leaves["model.proj_dim"])
    prefix = "model.kwargs."
    kwargs = {key[len(prefix):]: value for key, value in leaves.items() if key.startswith(prefix)}
    try:
        return encoder_width(str(leaves.get("model.name")), kwargs)
    except (RuntimeError, TypeError, ValueError):
        return None


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a validated :class:`Config` from :func:`to_dict` output (checkpoints)."""
    try:
        cfg: Config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), data))  # type: ignore[assignment]
    except OmegaConfBaseException as err:
        raise ConfigError(f"invalid stored config: {err}") from err
    validate(cfg)
    return cfg


