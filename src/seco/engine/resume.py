"""The one rule for resuming a run folder: which recorded keys may differ from this run's, and the refusal.

Both loops resume from ``RUN/last.pt`` (a :class:`~seco.engine.checkpoint.Checkpoint`)
and each declares its :class:`ResumeRule` beside its loop:
:data:`seco.engine.train.RESUME` compares every config key but those that say
where or how fast a run goes, and ``--allow-config-change`` resumes anyway;
:data:`seco.pretrain.train.RESUME` compares the seed, the model and the
schedule's settings, and nothing resumes past a change. A refusal is one line
naming the file, every changed key with its recorded and its new value, and
the ways out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seco.config import Config, ConfigError, config_diff
from seco.engine.checkpoint import LAST, Checkpoint, CheckpointError, Kind

__all__ = ["ResumeRefused", "ResumeRule", "changed_keys", "setting_flag"]

WORDS = {"train": "training", "pretrain": "pretraining"}


class ResumeRefused(CheckpointError, ConfigError):
    """The run folder's checkpoint was written with other values of keys its :class:`ResumeRule` compares.

    Both a :class:`CheckpointError` and a :class:`ConfigError`: the file and the
    config disagree, and either may be the one to change.
    """


def setting_flag(name: str) -> str:
    """The command-line flag of a settings field (``batch_size`` -> ``--batch-size``)."""
    return "--" + name.replace("_", "-")


def changed_keys(stored: Checkpoint, cfg: Config, settings: Any = None) -> dict[str, tuple[Any, Any]]:
    """Every recorded key whose value differs from this run's, ``{key: (recorded, now)}``.

    Config keys are dotted (:func:`~seco.config.config_diff`); the fields of a
    settings dataclass (pretraining's) are named by their flag. A key an
    older checkpoint lacks counts at its default, on both sides.
    """
    diff = config_diff(stored.config, cfg)
    if settings is not None:
        ours = dataclasses.asdict(settings)
        theirs = {**dataclasses.asdict(type(settings)()), **stored.settings}
        diff.update({setting_flag(k): (theirs[k], v) for k, v in ours.items() if theirs[k] != v})
    return diff


@dataclass(frozen=True)
class ResumeRule:
    """Which of a checkpoint's recorded keys must match the run that resumes it, and what to say otherwise.

    A key is compared when it starts with one of ``compared`` (``("",)``:
    every key) and with none of ``may_change``. ``flag`` is the option that
    resumes despite changed keys (None: none does); ``elsewhere`` says how to
    run in another folder instead.
    """

    kind: Kind
    elsewhere: str
    compared: tuple[str, ...] = ("",)
    may_change: tuple[str, ...] = ()
    flag: str | None = None

    def refused(self, diff: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
        """The entries of ``diff`` this rule does not let change."""
        return {k: v for k, v in diff.items() if k.startswith(self.compared) and not k.startswith(self.may_change)}

    def check(self, ckpt: Checkpoint, path: Path, cfg: Config, settings: Any = None,
              allow_change: bool = False) -> None:
        """Refuse to resume ``ckpt`` (read from ``path``) with ``cfg`` and ``settings`` when the rule says no.

        Raises:
            CheckpointError: ``ckpt`` was written by the other loop.
            ResumeRefused: a compared key changed and ``allow_change`` (with a ``flag``) does not allow it.
        """
        if ckpt.kind != self.kind:
            raise CheckpointError(f"{path} is a {WORDS[ckpt.kind]} checkpoint, not a {WORDS[self.kind]} one; "
                                  f"{self.elsewhere}")
        changed = self.refused(changed_keys(ckpt, cfg, settings))
        if changed and not (allow_change and self.flag):
            changes = ", ".join(f"{k} ({old!r} -> {new!r})" for k, (old, new) in changed.items())
            allow = f"{self.flag} to resume with the new values, " if self.flag else ""
            raise ResumeRefused(f"{path} was trained with another config: {changes}; pass {allow}--fresh to start "
                                f"over, or {self.elsewhere}")

    def load(self, run_dir: Path, cfg: Config, settings: Any = None, allow_change: bool = False) -> Checkpoint | None:
        """The run folder's ``last.pt`` once :meth:`check` lets this run resume it; None when there is none."""
        path = run_dir / LAST
        if not path.is_file():
            return None
        ckpt = Checkpoint.load(path)
        self.check(ckpt, path, cfg, settings, allow_change)
        return ckpt
