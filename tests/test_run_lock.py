"""One training process per run folder: the lock names its holder, a dead holder's lock is taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from seco.engine.run_lock import LOCK, RunFolderBusy, run_folder_lock
from seco.engine.train import train


def test_a_second_holder_is_refused_with_the_first_named(tmp_path: Path):
    run = tmp_path / "run"
    with run_folder_lock(run):
        holder = (run / LOCK).read_text()
        assert holder == f"{socket.gethostname()}:{os.getpid()}"
        with pytest.raises(RunFolderBusy, match=f"in use by process {holder}"):
            with run_folder_lock(run):
                pass
        assert (run / LOCK).is_file()  # the refused attempt did not remove the holder's lock
    assert not run.exists()  # created for nothing: removed again


def test_the_lock_goes_on_error_and_the_folder_stays_when_it_holds_files(tmp_path: Path):
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        with run_folder_lock(run):
            (run / "last.pt").write_text("x")
            raise RuntimeError("boom")
    assert sorted(p.name for p in run.iterdir()) == ["last.pt"]


def test_a_dead_processs_lock_is_taken_over(tmp_path: Path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).write_text(f"{socket.gethostname()}:{gone.stdout.strip()}")
    with run_folder_lock(run):
        assert (run / LOCK).read_text().endswith(f":{os.getpid()}")
    assert not (run / LOCK).exists()


def test_training_into_a_folder_in_use_stops_before_touching_it(tiny_cfg, tmp_path: Path):
    run = Path(tiny_cfg.out_dir)
    run.mkdir(parents=True)
    (run / LOCK).write_text("another-host:123")  # a holder on another host is taken to be alive
    with pytest.raises(RunFolderBusy, match="another-host:123 on host another-host, which cannot be checked from here"):
        train(tiny_cfg, progress=False)
    assert sorted(p.name for p in run.iterdir()) == [LOCK]


def test_seco_train_on_a_folder_in_use_is_a_one_line_error(synthetic_root: Path, tmp_path: Path, capsys):
    from seco.cli import main
    from support import tiny_overrides

    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK).write_text("another-host:123")
    assert main(["train", *tiny_overrides(synthetic_root, run)]) == 1
    assert "seco train: error:" in capsys.readouterr().err
