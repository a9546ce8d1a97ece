"""The fully supervised counterpart of SeCo (paper Table 5): a plain segmenter.

Same encoder, segmentation head, schedule and data as the weakly supervised
run, but the segmentation head learns from the ground-truth masks with a
pixel-wise cross-entropy (255 ignored), and nothing else trains: no
classification, CAMs, pseudo labels, decomposition or contrast. The paper's
counterpart is a plain segmenter on the same backbone (its DeepLabV2 ViT-B/16
row), so the classification losses stay off too: keeping them would make the
ceiling a multi-task model that the WSSS run is not compared against.

:class:`SupervisedMethod` is what ``train.supervision=full`` trains
(:func:`seco.method.build.build_method`): SeCo's surface with no local
teacher, reservoir or prototypes.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seco.data import SegDataset
from seco.data.errors import DataError
from seco.labels import IGNORE_INDEX
from seco.method.base import StepOutput, TrainingMethod
from seco.method.masked_mean import masked_mean

__all__ = ["SupervisedMethod", "require_masks", "supervised_step"]


class SupervisedMethod(TrainingMethod):
    """The fully supervised ceiling (paper Table 5): :func:`supervised_step`, nothing kept across steps."""

    @classmethod
    def check_data(cls, dataset: SegDataset, split: str) -> None:
        """:func:`require_masks`."""
        require_masks(dataset, split)

    def step(self, net: nn.Module, batch: dict[str, Tensor], iteration: int,
             generator: torch.Generator) -> StepOutput:
        """:func:`supervised_step` (no schedule, no randomness of its own)."""
        return supervised_step(net, batch)

    def loss_starts(self, iterations: int) -> dict[int, list[str]]:
        """The one loss, from the first iteration."""
        return {0: ["seg"]} if iterations > 0 else {}

    def stored_state(self, state: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """Nothing: checkpoints written before this class kept SeCo's unused local teacher, reservoir and
        prototypes under ``train.supervision=full`` too; they resume with those entries left out."""
        return {}


def supervised_step(net: nn.Module, batch: dict[str, Tensor]) -> StepOutput:
    """Cross-entropy of the segmentation head against the batch's ground-truth ``mask``.

    ``net`` may be a DistributedDataParallel wrapper: the loss goes through its
    one forward call. Logits are upsampled bilinearly to the crop size, as in
    the weakly supervised step; pixels marked ``IGNORE_INDEX`` (crop padding,
    VOC object borders) do not count, and a crop made only of them gives a
    zero loss, never NaN. The term is named ``seg``, so logs line up with the
    weak runs' segmentation term.
    """
    images, target = batch["image"], batch["mask"]
    logits = net(images, (), with_seg=True).seg
    logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
    ce = F.cross_entropy(logits, target.long(), ignore_index=IGNORE_INDEX, reduction="none")
    known = target != IGNORE_INDEX
    loss = masked_mean(ce, known)
    stats = {"mask_ignore": 1.0 - known.float().mean()}
    return StepOutput(loss=loss, terms={"seg": loss}, stats=stats)


def require_masks(dataset: SegDataset, split: str) -> None:
    """Refuse, before any training, a data set whose training images lack ground-truth masks.

    Raises:
        DataError: naming the split, the folder, how many images have no mask
            and the first of them.
    """
    missing = [record.name for record in dataset.records if record.mask is None]
    if missing:
        raise DataError(
            f"train.supervision=full trains on ground-truth masks, but {len(missing)} of {len(dataset)} images "
            f"of split {split!r} in {dataset.root} have none (first: {missing[0]!r}); point data.mask_dir at "
            "the masks, or train with train.supervision=weak"
        )
