"""The configuration tree: one dataclass per section, with each field's default.

:class:`Config` is the root; ``data``, ``model``, ``method``, ``train`` and
``eval`` are its sections. The losses' sections are in
:mod:`seco.config.losses`. OmegaConf checks every key and type of a YAML file
or an override against these classes (:mod:`seco.config.load`);
:func:`seco.config.validate.validate` checks the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seco.config.choices import choice, switch_choices
from seco.config.losses import LossesConfig

__all__ = [
    "FIDELITIES",
    "CAMConfig",
    "Config",
    "DataConfig",
    "DecompositionConfig",
    "EvalConfig",
    "MethodConfig",
    "ModelConfig",
    "PARConfig",
    "PrototypeConfig",
    "RectificationConfig",
    "ReservoirConfig",
    "SyntheticConfig",
    "TeacherConfig",
    "TrainConfig",
]


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

    format: str = choice("synthetic", ("synthetic", "voc", "coco", "folder"))
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
    on_error: str = choice("raise", ("raise", "skip"))
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
    flip_merge: str = choice("max", ("max", "sum"))
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
    centres: str = choice("content", ("public", "content"))
    patch_tags: str = choice("paper", ("public", "paper"))
    global_tags: str = choice("paper", ("public", "paper"))
    global_views: str = choice("crop_and_rrc", ("crop_and_rrc", "resized_copies"))
    q_flip: bool = True
    k_view: str = choice("per_patch", ("whole_crop", "per_patch"))
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
    init: str = choice("empty", ("public", "empty"))
    push_tags: str = choice("rectified", ("raw", "rectified"))
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
    space: str = choice("projection", ("backbone", "projection"))
    update: str = choice("per_image", ("public", "per_image", "batch_mean"))
    before_lig: bool = True
    source: str = choice("images", ("images", "patches"))


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
    rule: str = choice("paper", ("public", "paper"))


@dataclass
class MethodConfig:
    """Everything the SeCo training step needs (paper Sec. 3).

    ``fidelity`` (``public`` | ``paper``) names the preset that set the
    switches below (``seco/configs/fidelity/<name>.yaml``); any switch can
    still be set on its own after it.
    """

    fidelity: str = choice("paper", ("public", "paper"))
    cam: CAMConfig = field(default_factory=CAMConfig)
    par: PARConfig = field(default_factory=PARConfig)
    decomposition: DecompositionConfig = field(default_factory=DecompositionConfig)
    reservoir: ReservoirConfig = field(default_factory=ReservoirConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    prototypes: PrototypeConfig = field(default_factory=PrototypeConfig)
    rectification: RectificationConfig = field(default_factory=RectificationConfig)
    losses: LossesConfig = field(default_factory=LossesConfig)


FIDELITIES = switch_choices(MethodConfig)["fidelity"]
"""The presets of ``method.fidelity`` (``seco/configs/fidelity/<name>.yaml``)."""


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

    supervision: str = choice("weak", ("weak", "full"))
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
    compile: str = choice("", ("", "default", "reduce-overhead", "max-autotune"))
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
