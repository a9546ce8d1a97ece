"""From YAML layers and dotted overrides to a validated :class:`~seco.config.schema.Config`.

The layers, lowest first: the schema's defaults, the fidelity preset
(``seco/configs/fidelity/<name>.yaml``), the config file and its bases, the
command line's ``key=value`` overrides.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seco.config.errors import ConfigError
from seco.config.schema import FIDELITIES, Config
from seco.config.serialise import dotted_leaves
from seco.config.validate import validate

__all__ = ["apply_overrides", "available_configs", "load_config"]

log = logging.getLogger(__name__)


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
    user_keys = [key for layer in layers if not layer.packaged for key in dotted_leaves(_plain(layer.raw))]
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
    switches = set(dotted_leaves(_plain(layer.raw))) & set(dotted_leaves(_plain(preset)))
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
    for switch, value in dotted_leaves(_plain(preset)).items():
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
