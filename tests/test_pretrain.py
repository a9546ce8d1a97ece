"""`seco pretrain` end to end at a tiny size: the weights file, its loading, exact resume, bad settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from seco.cli import main
from seco.config import load_config
from seco.engine.checkpoint import Checkpoint, CheckpointError
from seco.model.backbone import build_encoder
from seco.model.token_embed import timm_state_dict, token_embed_key
from seco.pretrain import train as pretrain_module
from seco.pretrain.settings import PretrainSettings
from support import TINY_MODEL

TINY = ["--iterations", "4", "--batch-size", "4", "--warmup-iters", "1", "--image-size", "32", "--n-val", "6",
        "--eval-every", "2", "--ckpt-every", "2", *TINY_MODEL]


def _run(tmp_path: Path, name: str, *extra: str) -> tuple[int, Path]:
    out = tmp_path / name
    code = main(["pretrain", "--out", str(out / "encoder.pth"), "--run-dir", str(out), *TINY, *extra])
    return code, out


def _encoder(weights: Path | None) -> torch.nn.Module:
    m = load_config("synthetic", TINY_MODEL).model
    return build_encoder(m.name, m.pretrained, str(weights) if weights else "", m.kwargs, m.conv_stem, m.aux_layer,
                         m.drop_path, m.freeze_pos_embed, m.pixel_mean, m.pixel_std)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    code, out = _run(tmp_path_factory.mktemp("pretrain"), "run", "--fresh")
    assert code == 0
    return out


def test_writes_weights_log_and_metrics(tiny_run: Path, capsys: pytest.CaptureFixture) -> None:
    for name in ("encoder.pth", "last.pt", "pretrain.jsonl", "metrics.json"):
        assert (tiny_run / name).is_file(), name
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["iterations"] == 4 and metrics["val"]["images"] == 6
    for key in ("accuracy", "map", "cam_miou", "aux_cam_miou"):
        assert 0.0 <= metrics["val"][key] <= 1.0, key
    assert set(metrics["val"]["cam_on_context"]) == {"plain", "water", "rails", "sky"}
    logged = [json.loads(line) for line in (tiny_run / "pretrain.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in logged if "val" in r] == [2]


def test_weights_load_into_build_encoder_with_every_tensor_equal(tiny_run: Path) -> None:
    saved = torch.load(tiny_run / "encoder.pth", weights_only=True)
    assert any(k.startswith("patch_embed.proj.0.") for k in saved) and "cls_token" in saved
    loaded = timm_state_dict(_encoder(tiny_run / "encoder.pth").vit)
    assert loaded.keys() == saved.keys()
    for key, tensor in saved.items():
        assert torch.equal(loaded[key], tensor.to(loaded[key].dtype)), key
    fresh = timm_state_dict(_encoder(None).vit)
    assert not torch.equal(fresh["blocks.0.attn.qkv.weight"], loaded["blocks.0.attn.qkv.weight"])


def test_the_weights_are_the_trained_encoder(tiny_run: Path) -> None:
    ckpt = torch.load(tiny_run / "last.pt", weights_only=True)
    saved = torch.load(tiny_run / "encoder.pth", weights_only=True)
    for key, tensor in saved.items():
        assert torch.equal(ckpt["model"][f"encoder.vit.{token_embed_key(key)}"], tensor), key


def test_half_weights_load_back_exactly_as_stored(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "half", "--half", "--iterations", "2", "--eval-every", "0")
    assert code == 0
    saved = torch.load(out / "encoder.pth", weights_only=True)
    assert saved["blocks.0.attn.qkv.weight"].dtype == torch.float16
    loaded = timm_state_dict(_encoder(out / "encoder.pth").vit)
    for key, tensor in saved.items():
        assert loaded[key].dtype != torch.float16 and torch.equal(loaded[key], tensor.to(loaded[key].dtype)), key


def test_an_interrupted_run_resumes_to_the_same_weights(tiny_run: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    save = Checkpoint.save

    def save_then_stop(checkpoint: Checkpoint, path: Path) -> Path:
        save(checkpoint, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", save_then_stop)
    assert _run(tmp_path, "resumed", "--fresh")[0] == 130
    assert torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)["iteration"] == 2
    monkeypatch.setattr(Checkpoint, "save", save)
    assert _run(tmp_path, "resumed")[0] == 0
    resumed = torch.load(tmp_path / "resumed" / "encoder.pth", weights_only=True)
    for key, tensor in torch.load(tiny_run / "encoder.pth", weights_only=True).items():
        assert torch.equal(resumed[key], tensor), key


def test_resume_refuses_another_schedule(tiny_run: Path, tmp_path: Path) -> None:
    cfg = load_config("synthetic", TINY_MODEL)
    settings = PretrainSettings(iterations=8, batch_size=4, image_size=32, n_val=2)
    refusal = (r"last\.pt was trained with another config: --iterations \(4 -> 8\), --warmup-iters \(1 -> 100\); "
               r"pass --fresh to start over, or use another --run-dir$")  # every changed key, none that may change
    with pytest.raises(CheckpointError, match=refusal):
        pretrain_module.pretrain(cfg, settings, tmp_path / "w.pth", tiny_run, progress=False)


def test_bad_settings_are_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert _run(tmp_path, "bad", "--batch-size", "0")[0] == 1
    assert "--batch-size must be at least 1" in capsys.readouterr().err
    assert _run(tmp_path, "odd", "--image-size", "40")[0] == 1  # 5x5 tokens of 8 px: no 2x2 mosaic tiles
    assert "40 px images give 5x5 tokens, which do not split into 2x2 tiles" in capsys.readouterr().err
    assert not (tmp_path / "odd" / "last.pt").exists()
    assert _run(tmp_path, "odd", "--image-size", "49")[0] == 1  # odd pixels too: the same line, no traceback
    assert "49 px images give 7x7 tokens, which do not split into 2x2 tiles" in capsys.readouterr().err


def test_pretrain_leaves_the_process_thread_count_as_it_found_it(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    code, _ = _run(tmp_path, "threads", "--iterations", "1", "--eval-every", "0", "--threads", str(before + 1))
    assert code == 0 and torch.get_num_threads() == before


def test_an_existing_weights_file_is_refused_before_training_unless_overwrite(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "kept"
    out.mkdir()
    (out / "encoder.pth").write_bytes(b"the user's weights")
    code, _ = _run(tmp_path, "kept", "--iterations", "1", "--eval-every", "0")
    assert code == 1 and (out / "encoder.pth").read_bytes() == b"the user's weights"
    assert not (out / "last.pt").exists()  # refused before any training
    err = capsys.readouterr().err
    assert "encoder.pth exists; pass --overwrite" in err and "Traceback" not in err
    code, _ = _run(tmp_path, "kept", "--iterations", "1", "--eval-every", "0", "--overwrite")
    assert code == 0 and (out / "encoder.pth").read_bytes() != b"the user's weights"


def test_cls_weight_trains_the_class_token_and_resumes_exactly(tiny_run: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    code, whole = _run(tmp_path, "whole", "--fresh", "--cls-weight", "1.0")
    assert code == 0
    metrics = json.loads((whole / "metrics.json").read_text())
    assert 0.0 <= metrics["val"]["cls_single_accuracy"] <= 1.0
    assert "cls_single_accuracy" not in json.loads((tiny_run / "metrics.json").read_text())["val"]
    # Same seed and schedule: only the class token's loss differs, and the encoder learns from it.
    plain = torch.load(tiny_run / "encoder.pth", weights_only=True)
    trained = torch.load(whole / "encoder.pth", weights_only=True)
    assert not torch.equal(plain["cls_token"], trained["cls_token"])
    head = torch.load(whole / "last.pt", weights_only=True)["cls_head"]
    assert head["weight"].shape[1] == plain["cls_token"].shape[-1]

    save = Checkpoint.save

    def save_then_stop(checkpoint: Checkpoint, path: Path) -> Path:
        save(checkpoint, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", save_then_stop)
    assert _run(tmp_path, "resumed", "--fresh", "--cls-weight", "1.0")[0] == 130
    monkeypatch.setattr(Checkpoint, "save", save)
    assert _run(tmp_path, "resumed", "--cls-weight", "0.5")[0] == 1  # another schedule: refused
    assert _run(tmp_path, "resumed", "--cls-weight", "1.0")[0] == 0
    resumed = torch.load(tmp_path / "resumed" / "encoder.pth", weights_only=True)
    for key, tensor in trained.items():
        assert torch.equal(resumed[key], tensor), key


def test_a_checkpoint_from_before_cls_weight_resumes_as_cls_weight_0(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "old"
    shutil.copytree(tiny_run, run)
    ckpt = torch.load(run / "last.pt", weights_only=True)
    del ckpt["settings"]["cls_weight"], ckpt["cls_head"]
    torch.save(ckpt, run / "last.pt")
    assert _run(tmp_path, "old", "--overwrite")[0] == 0
    settings = PretrainSettings(iterations=4, batch_size=4, warmup_iters=1, image_size=32, n_val=6, cls_weight=1.0)
    with pytest.raises(CheckpointError, match=r"--cls-weight \(0\.0 -> 1\.0\)"):
        pretrain_module.pretrain(load_config("synthetic", TINY_MODEL), settings, tmp_path / "w.pth", run,
                                 progress=False)
