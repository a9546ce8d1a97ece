"""Loop-by-loop restatements of the public code's arithmetic (zwyang6/SeCo at 202357f), as test oracles.

Each function restates, in plain loops and in our own words, what one piece of
the public training step computes, so the vectorised implementations under
``fidelity: public`` can be checked against it on identical tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lil_and_rectification(q, k, tags, queue, queue_tags, ptr, tau, sigma=10.0):
    """The public LiL with its built-in rectification, from the public step's own inputs: the queries ``q``,
    this step's keys ``k`` (the projection head's unit vectors) with their ``tags``, and the full queue with
    its tags before the push, whose next slot is ``ptr``. Returns (loss, tags after rectification).

    The public step writes ``k`` into the queue as it is, at ``ptr``, and contrasts ``q`` with ``k``
    followed by the queue after that write: each key appears twice, bit-identical, so a query whose most
    similar key is its own loses both copies from the denominator below (shifted logit exactly 0)."""
    tags = tags.clone()
    queue, queue_tags = queue.clone(), queue_tags.clone()
    queue[ptr : ptr + len(k)] = k
    queue_tags[ptr : ptr + len(k)] = tags
    keys, key_tags = torch.cat([k, queue]), torch.cat([tags, queue_tags])
    logits = q @ keys.T / tau
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    masked = logits.clone()
    positive = torch.zeros_like(logits, dtype=torch.bool)
    for i in range(len(tags)):
        if tags[i] == -1:
            masked[i] = 0
        else:
            positive[i] = key_tags == tags[i]
    pos_logits = masked * positive
    for i in range(len(tags)):
        mean = pos_logits[i].mean()
        at_or_above = int((pos_logits[i] >= mean).sum())
        below = int((pos_logits[i] < mean).sum())
        if below / (at_or_above + 1e-6) > sigma:
            tags[i] = 0
            pos_logits[i] = 0.0
    for j in range(len(key_tags)):
        if key_tags[j] == -1:
            masked[:, j] = 0.0
    exp = masked.exp()
    exp = exp * (exp != 1.0)
    log_prob = pos_logits - torch.log(exp.sum(dim=1, keepdim=True) + 1e-12)
    nonzero = int((pos_logits != 0).sum())
    total = torch.zeros(())
    for i in range(len(tags)):
        if nonzero > 0 and exp[i].sum() > 0 and log_prob[i].sum() < 0:
            total = total + log_prob[i].sum() / nonzero
    return -(total / len(tags)), tags


def lig(q, prototypes, tags, tau):
    """The public LiG: positives by tag, the softmax over the classes among the tags."""
    classes = prototypes.shape[0]
    logits = q @ prototypes.T / tau
    positive = tags[:, None] == torch.arange(1, classes + 1)[None]
    in_batch = torch.zeros(classes, dtype=torch.bool)
    for tag in tags.unique().tolist():
        if tag > 0:
            in_batch[tag - 1] = True
    pos_logits = logits * positive
    exp = (logits * in_batch[None]).exp()
    exp = exp * (exp != 1.0)
    log_prob = (pos_logits - torch.log(exp.sum(dim=1, keepdim=True) + 1e-12)) * (pos_logits != 0)
    total = torch.zeros(())
    for i in range(len(tags)):
        if exp[i].sum() > 0:
            total = total + log_prob[i].sum()
    count = int(positive.sum())
    return -(total / count if count > 0 else total / len(tags))


def multiscale_cam(cam_fn, images, scales):
    """The public multi-scale CAM: max over each flip pair after upsampling, ReLU, sum, min-max."""
    b, _, h, w = images.shape
    maps = []
    for scale in [1.0] + [s for s in scales if s != 1.0]:
        x = images if scale == 1.0 else F.interpolate(images, size=(int(scale * h), int(scale * w)),
                                                      mode="bilinear", align_corners=False)
        raw = F.interpolate(cam_fn(torch.cat([x, x.flip(-1)])), size=(h, w), mode="bilinear", align_corners=False)
        maps.append(F.relu(torch.max(raw[:b], raw[b:].flip(-1))))
    cam = torch.stack(maps).sum(0)
    cam = cam - cam.amin(dim=(2, 3), keepdim=True)
    return cam / (cam.amax(dim=(2, 3), keepdim=True) + 1e-5)


def tags_and_crops(roi_mask, centres, size, phi):
    """The public tag assignment for given centres (the public code draws them; here they are given).
    ``roi_mask``: ids, 0, -1 (uncertain), 255 (outside the crop). Returns (global flag, patch flags)."""
    batch = roi_mask.shape[0]
    flags = torch.ones(batch, centres.shape[1] + 1, dtype=torch.long)
    roi_ = roi_mask * (roi_mask != 255)
    roi = roi_ * (roi_ != -1)
    roi_un = roi + (roi_ == -1).long()
    for b in range(batch):
        classes = roi[b].unique()
        classes = classes[classes != 0]
        if len(classes) >= 2:
            flags[b, 0] = -1
        elif len(classes) == 1:
            flags[b, 0] = classes[0]
            roi[b] = roi[b] + (roi_[b] == -1).long() * classes[0]
        for n, (y, x) in enumerate(centres[b].tolist()):
            y0, x0 = y - size // 2, x - size // 2
            un = roi_un[b, y0 : y0 + size, x0 : x0 + size]
            patch = roi[b, y0 : y0 + size, x0 : x0 + size]
            if un.sum() / (size * size) <= phi:
                flags[b, n + 1] = 0
            else:
                ids = patch.unique()
                ids = ids[ids != 0]
                flags[b, n + 1] = ids[-1] if len(ids) == 1 else -1
    return flags[:, 0], flags[:, 1:].flatten()


def ptc(tokens, cam_aux, crop_box, high, low):
    """The public PTC: the aux CAM resized to the token grid, thresholded, the crop box applied in pixel
    coordinates on that grid, |cos| over all pairs, counts + 1."""
    b, c, h, w = tokens.shape
    resized = F.interpolate(cam_aux, size=(h, w), mode="bilinear", align_corners=False)
    value, index = resized.max(dim=1)
    label = index + 1
    label[value <= high] = 255
    label[value <= low] = 0
    boxed = torch.full_like(label, 255)
    for i, (y0, y1, x0, x1) in enumerate(crop_box.tolist()):
        boxed[i, y0:y1, x0:x1] = label[i, y0:y1, x0:x1]
    flat = boxed.reshape(b, -1)
    aff = (flat[:, None, :] == flat[:, :, None]).long()
    for i in range(b):
        aff[i, :, flat[i] == 255] = 255
        aff[i, flat[i] == 255, :] = 255
    aff[:, range(h * w), range(h * w)] = 255
    x = F.normalize(tokens.reshape(b, c, h * w), dim=1, eps=1e-8)
    cos = (x.transpose(1, 2) @ x).abs()
    pos, neg = aff == 1, aff == 0
    return 0.5 * (1 - (pos * cos).sum() / (pos.sum() + 1)) + 0.5 * (neg * cos).sum() / (neg.sum() + 1)
