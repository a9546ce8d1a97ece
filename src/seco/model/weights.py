"""Backbone weights from a file: read the layouts users have, load every tensor or fail loudly.

A ViT file that loads only partly leaves the rest of the encoder random, and a
run then trains for hours towards numbers near zero. So every tensor of the
encoder must come from the file: a missing, unexpected (other than the
classifier head, which SeCo replaces) or differently shaped tensor is an error
that names the file and lists the first keys of each kind, unless
``model.weights_strict`` is false, which loads what fits and warns in one line.

Accepted: a timm/PyTorch state dict (``.pth``, ``.pt``, ``.bin``, read with
``weights_only=True``), a safetensors file, a checkpoint dict holding one under
``model`` or ``state_dict``, and the original ViT ``.npz`` files (through
timm's ``VisionTransformer.load_pretrained``). A prefix every key shares, such
as ``module.`` or ``encoder.``, is stripped; foreign layouts (CLIP, DINOv2) and
other grid or patch sizes are adapted by timm's ``checkpoint_filter_fn``.
``seco:NAME`` names a file shipped in the package folder ``seco/weights``.
Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from timm.models.vision_transformer import VisionTransformer, checkpoint_filter_fn

from seco.config import ConfigError

__all__ = ["PACKAGED_PREFIX", "LoadedWeights", "WeightsError", "file_sha256", "load_backbone_weights",
           "read_state_dict", "weights_file"]

log = logging.getLogger(__name__)

PACKAGED_PREFIX = "seco:"
PACKAGED_WEIGHTS = resources.files("seco") / "weights"
_SHOWN = 4  # keys listed per kind in a mismatch message


class WeightsError(ConfigError):
    """A backbone weights file is unreadable, does not fit the encoder, or is not the file the config names."""


@dataclass(frozen=True)
class LoadedWeights:
    """What the backbone started from: the file (as the config names it), its sha256, the tensors loaded."""

    source: str
    sha256: str
    tensors: int


@contextmanager
def weights_file(value: str | Path) -> Iterator[Path]:
    """The local path of ``value``: a file path (``~`` expanded) or ``seco:NAME``, shipped in ``seco/weights``."""
    text = str(value)
    if not text.startswith(PACKAGED_PREFIX):
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"model.weights: backbone weights file {path} does not exist")
        yield path
        return
    name = text[len(PACKAGED_PREFIX):]
    packaged = PACKAGED_WEIGHTS / name
    if name in {"", ".", ".."} or Path(name).name != name or not packaged.is_file():
        shipped = sorted(p.name for p in PACKAGED_WEIGHTS.iterdir()) if PACKAGED_WEIGHTS.is_dir() else []
        shipped = [n for n in shipped if not n.startswith((".", "_"))]
        raise WeightsError(f"model.weights: {text!r} is not shipped with seco "
                           f"(shipped: {', '.join(PACKAGED_PREFIX + n for n in shipped) or 'none'})")
    with resources.as_file(packaged) as path:
        yield path


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a state dict file (PyTorch or safetensors), unwrapped from ``model``/``state_dict``."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch and safetensors raise many types for a damaged or foreign file
        raise WeightsError(
            f"model.weights: {path} cannot be read as a weights file ({_reason(err)}); save the tensors alone, "
            "e.g. torch.save(model.state_dict(), PATH), or as .safetensors (or .npz for the original ViT files)"
        ) from err
    while isinstance(state, dict) and not _all_tensors(state):
        inner = next((state[k] for k in ("state_dict", "model") if isinstance(state.get(k), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict) or not state or not _all_tensors(state):
        found = ", ".join(list(state)[:_SHOWN]) if isinstance(state, dict) else type(state).__name__
        raise WeightsError(f"model.weights: {path} holds no state dict of tensors, nor one under 'model' or "
                           f"'state_dict' (found: {found or 'nothing'})")
    return state


def load_backbone_weights(vit: VisionTransformer, value: str | Path, strict: bool = True, sha256: str = "",
                          antialias: bool = True) -> LoadedWeights:
    """Load the backbone weights file ``value`` names (``model.weights``) into ``vit`` (built with
    ``num_classes=0``), checked key by key.

    ``sha256``, when given, must be the file's. ``antialias`` is used if the
    position embedding has to be resized to the encoder's grid. The log gets
    one line with the file, its sha256 and the number of tensors loaded.
    """
    with weights_file(value) as path:
        digest = file_sha256(path)
        if sha256 and digest != sha256.lower():
            raise WeightsError(
                f"model.weights_sha256: {path} has sha256 {digest}, the config expects {sha256.lower()}; point "
                "model.weights at the expected file, or set model.weights_sha256='' to accept this one")
        if path.suffix == ".npz":
            tensors = _load_npz(vit, path, strict)
        else:
            tensors = _load_state_dict(vit, read_state_dict(path), path, strict, antialias)
    source = str(value) if str(value).startswith(PACKAGED_PREFIX) else str(path)
    log.info("backbone weights: %d tensors from %s (sha256 %s)", tensors, source, digest)
    return LoadedWeights(source, digest, tensors)


def _load_state_dict(vit: VisionTransformer, state: dict[str, torch.Tensor], path: Path, strict: bool,
                     antialias: bool) -> int:
    own = vit.state_dict()
    classifier = _classifier_names(vit)
    state, prefix = _strip_prefix(state, {key.split(".")[0] for key in own})
    if prefix:
        log.info("model.weights: stripped the prefix %r that every key of %s has", prefix, path.name)
    if not _fits(state, own, classifier):  # another layout, grid or patch size: let timm adapt it
        before = state.get("pos_embed")
        try:
            state = checkpoint_filter_fn(state, vit, antialias=antialias)
        except Exception as err:  # timm's converters assume a fitting layout and fail in many ways otherwise
            raise WeightsError(f"model.weights: {path} does not fit the encoder "
                               f"({_mismatch(state, own, classifier)}); timm cannot adapt it: {err}") from err
        after = state.get("pos_embed")
        if before is not None and after is not None and before.shape != after.shape:
            log.info("model.weights: position embedding resized from %s to %s (bicubic, antialias=%s)",
                     _grid(vit, before), _grid(vit, after), antialias)
    if not _fits(state, own, classifier):
        if strict:
            raise WeightsError(
                f"model.weights: {path} does not fit the encoder: {_mismatch(state, own, classifier, listed=True)}; "
                "pass this model's state dict (timm layout), or set model.weights_strict=false to load only the "
                "tensors that fit")
        log.warning("warning: model.weights: %s loaded partly (%s; model.weights_strict=false)", path,
                    _mismatch(state, own, classifier))
    usable = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    vit.load_state_dict(usable, strict=False)
    return len(usable)


def _load_npz(vit: VisionTransformer, path: Path, strict: bool) -> int:
    """Load an original ViT .npz with timm; a tensor still NaN afterwards was not in the file."""
    own = vit.state_dict()
    initial = {k: t.clone() for k, t in own.items()}
    with torch.no_grad():
        for tensor in own.values():
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
        _log_npz_resize(vit, path)
        try:
            vit.load_pretrained(str(path))
        except KeyError as err:
            raise WeightsError(f"model.weights: {path} lacks the array {err.args[0]!r} that this encoder needs "
                               "(original ViT .npz layout)") from err
        except Exception as err:  # timm's npz reader raises several types for a foreign file
            raise WeightsError(f"model.weights: {path} cannot be loaded as an original ViT .npz file: {err}") from err
        missing = [k for k, t in own.items() if t.is_floating_point() and bool(torch.isnan(t).any())]
        for key in missing:
            own[key].copy_(initial[key])
    if missing:
        if strict:
            raise WeightsError(f"model.weights: {path} does not fit the encoder: {len(missing)} missing keys "
                               f"({_first(missing)}); set model.weights_strict=false to load only what fits")
        log.warning("warning: model.weights: %s loaded partly (%d missing keys; model.weights_strict=false)",
                    path, len(missing))
    return len(own) - len(missing)


def _log_npz_resize(vit: VisionTransformer, path: Path) -> None:
    try:
        with np.load(path) as arrays:
            key = next((k for k in arrays.files if k.endswith("pos_embedding")), None)
            shape = arrays[key].shape if key else None
    except (OSError, ValueError):
        return  # timm's loader names the problem
    if shape is not None and vit.pos_embed is not None and shape[-2] != vit.pos_embed.shape[1]:
        log.info("model.weights: position embedding resized from %s to %s (timm's .npz loader: bilinear)",
                 _grid(vit, torch.empty(1, shape[-2], 1)), _grid(vit, vit.pos_embed))


def _strip_prefix(state: dict[str, torch.Tensor], own_heads: set[str]) -> tuple[dict[str, torch.Tensor], str]:
    """Strip leading key components (``module.``, ``encoder.``) that every key has and the encoder has not."""
    prefix = ""
    while all("." in key for key in state):
        heads = {key.split(".", 1)[0] for key in state}
        if len(heads) != 1 or heads <= own_heads:
            break
        head = heads.pop()
        state = {key[len(head) + 1:]: value for key, value in state.items()}
        prefix += head + "."
    return state, prefix


def _classifier_names(vit: VisionTransformer) -> tuple[str, ...]:
    names = vit.pretrained_cfg.get("classifier") or "head"
    return (names,) if isinstance(names, str) else tuple(names)


def _is_classifier(key: str, classifier: tuple[str, ...]) -> bool:
    return any(key == name or key.startswith(name + ".") for name in classifier)


def _fits(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], classifier: tuple[str, ...]) -> bool:
    return (all(k in state and state[k].shape == v.shape for k, v in own.items())
            and all(k in own or _is_classifier(k, classifier) for k in state))


def _mismatch(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], classifier: tuple[str, ...],
              listed: bool = False) -> str:
    """Counts (and, when ``listed``, the first keys) of missing, unexpected and reshaped tensors."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own and not _is_classifier(k, classifier)]
    reshaped = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
                if k in state and state[k].shape != own[k].shape]
    parts = []
    for count, what, keys in ((len(missing), "missing keys", missing), (len(unexpected), "unexpected keys", unexpected),
                              (len(reshaped), "tensors of another shape (file vs encoder)", reshaped)):
        parts.append(f"{count} {what}" + (f" ({_first(keys)})" if listed and keys else ""))
    return ", ".join(parts)


def _first(keys: list[str]) -> str:
    return ", ".join(keys[:_SHOWN]) + (", ..." if len(keys) > _SHOWN else "")


def _grid(vit: VisionTransformer, pos_embed: torch.Tensor) -> str:
    """A position embedding's grid as ``HxW`` (square grids; else its number of positions)."""
    positions = pos_embed.shape[1] - (0 if vit.no_embed_class else vit.num_prefix_tokens)
    side = math.isqrt(max(positions, 0))
    return f"{side}x{side}" if side * side == positions else f"{positions} positions"


def _all_tensors(state: dict) -> bool:
    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())


def _reason(err: Exception) -> str:
    """Why a file did not load, without torch's advice to unpickle it unsafely."""
    unsafe = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
    if unsafe:
        return f"it holds {unsafe.group(1)} objects besides tensors"
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    first = lines[0] if lines and "weights_only" not in lines[0] else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__
