"""timm's pretrained weights: from the local Hugging Face cache, downloaded only when the hub answers.

Left to itself, timm retries an unreachable hub for about a minute and then
fails with a connection error. Here the cache is looked up first (no network
at all), then one quick request asks whether the hub answers; an offline
machine learns at once what to do instead. The file found then goes through
the same complete-or-fail loader as a local ``model.weights`` file.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache
from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError
from timm.models.vision_transformer import VisionTransformer

from seco.model.weights import WeightsError

__all__ = ["OFFLINE_HINT", "hub_unreachable", "pretrained_file"]

OFFLINE_HINT = "pass model.weights=PATH with a local file, or model.pretrained=false"
_DEFAULT_FILES = ("model.safetensors", "pytorch_model.bin")  # timm's order: safetensors first


def pretrained_file(vit: VisionTransformer, name: str) -> Path:
    """The local file of timm's pretrained weights for ``vit`` (built as ``name``), downloaded if needed."""
    cfg = vit.pretrained_cfg
    hub_id = cfg.get("hf_hub_id")
    if not hub_id:
        raise WeightsError(f"model.pretrained: timm has no Hugging Face weights for {name!r}; {OFFLINE_HINT}")
    repo, _, revision = hub_id.partition("@")
    files = (cfg["hf_hub_filename"],) if cfg.get("hf_hub_filename") else _DEFAULT_FILES
    for filename in files:
        cached = try_to_load_from_cache(repo, filename, revision=revision or None)
        if isinstance(cached, str):
            return Path(cached)
    offline = f"the weights of {name!r} (Hugging Face repo {repo}) are not in the local cache and"
    why = hub_unreachable()
    if why:
        raise WeightsError(f"model.pretrained: {offline} {why}; {OFFLINE_HINT}")
    for filename in files:
        try:
            return Path(hf_hub_download(repo, filename, revision=revision or None))
        except LocalEntryNotFoundError as err:  # the connection dropped after the check
            raise WeightsError(f"model.pretrained: {offline} the download failed; {OFFLINE_HINT}") from err
        except EntryNotFoundError:
            continue
        except Exception as err:  # HTTP, authentication and file system errors of the hub client
            reason = str(err).splitlines()[0] if str(err) else ""
            raise WeightsError(f"model.pretrained: downloading {repo}/{filename} failed "
                               f"({type(err).__name__}: {reason}); {OFFLINE_HINT}") from err
    raise WeightsError(f"model.pretrained: {repo} holds none of {', '.join(files)}; {OFFLINE_HINT}")


def hub_unreachable(timeout: float = 3.0) -> str:
    """Why the Hugging Face hub cannot be reached now, or ``""`` when it answers (any HTTP status)."""
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return ""
    except OSError as err:  # URLError (no DNS, refused, proxy), timeouts
        return f"{constants.ENDPOINT} cannot be reached ({getattr(err, 'reason', err)})"
    return ""
