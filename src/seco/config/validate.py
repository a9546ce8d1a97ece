"""Every check of a configuration's values that can be made before a run starts."""

from __future__ import annotations

from operator import attrgetter

from seco.config.choices import switch_choices
from seco.config.errors import ConfigError
from seco.config.losses import LOSS_NAMES, LossesConfig
from seco.config.schema import Config, DataConfig, EvalConfig, MethodConfig, ModelConfig, TrainConfig

__all__ = ["validate"]


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
    for name in LOSS_NAMES:
        term, key = getattr(losses, name), f"method.losses.{name}"
        _non_negative({f"{key}.weight": term.weight, f"{key}.start_iter": term.start_iter})
    terms = [getattr(losses, n) for n in LOSS_NAMES]
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

    Types are checked by the schema already; this checks that every switch
    holds one of the values its field declares, ranges (positive sizes,
    fractions in [0, 1]), orders (``low_thr <= high_thr``) and relations
    between sections (a reservoir that holds whole steps of keys, patches that
    fit in the crop). The error names the key and says what is wrong.
    """
    _need(bool(cfg.out_dir.strip()), "out_dir", "must name the run folder")
    _check_choices(cfg)
    _validate_data(cfg.data)
    _validate_model(cfg.model)
    _validate_train(cfg.train)  # before the method: the reservoir check divides by train.batch_size
    _validate_method(cfg.method, cfg.data, cfg.train.batch_size, cfg.train.supervision == "full")
    _validate_eval(cfg.eval)


def _check_choices(cfg: Config) -> None:
    """Every switch holds one of the values its field declares (:func:`seco.config.choices.choice`)."""
    for key, allowed in switch_choices(Config).items():
        value = attrgetter(key)(cfg)
        _need(value in allowed, key, f"{value!r} is not one of {', '.join(allowed)}")
