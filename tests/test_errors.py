"""Every error a user can cause is a SecoError: the command line prints it as one line and exits 1.

The package is imported whole (every module), so an error class defined
anywhere in it is seen, also one that no command raises yet.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from pathlib import Path

import pytest

import seco
from seco.cli import main
from seco.engine.loader import SetSmallerThanBatch
from seco.engine.stop import TrainingInterrupted
from seco.errors import SecoError

MODULES = [importlib.import_module(info.name) for info in pkgutil.walk_packages(seco.__path__, "seco.")]

NOT_USER_ERRORS = {
    TrainingInterrupted,  # a clean stop on a signal after a checkpoint: no "error:", exit status 128 + the signal
}

EXAMPLE_ARGS: dict[type[BaseException], tuple[object, ...]] = {  # the errors built from more than their message
    SetSmallerThanBatch: (5, 2, 8),
    TrainingInterrupted: (15, 3, 10, Path("runs/x/last.pt")),
}


def _exceptions() -> list[type[BaseException]]:
    """Every exception class the package defines, once."""
    found = {obj for module in MODULES for _, obj in inspect.getmembers(module, inspect.isclass)
             if issubclass(obj, BaseException) and obj.__module__.startswith("seco.")}
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


USER_ERRORS = [cls for cls in _exceptions() if issubclass(cls, SecoError)]


def _example(cls: type[BaseException]) -> BaseException:
    return cls(*EXAMPLE_ARGS.get(cls, (f"{cls.__name__}: data.root=/x/y does not exist; set data.root",)))


def test_the_walk_finds_the_errors_of_several_packages() -> None:
    """The checks below are only as good as the walk: it must reach errors of the lower and upper layers."""
    names = {cls.__name__ for cls in USER_ERRORS}
    assert {"ConfigError", "DataError", "CheckpointError", "PredictError", "ScaleDeadline"} <= names, names


def test_every_error_of_the_package_is_a_seco_error() -> None:
    others = [f"{cls.__module__}.{cls.__qualname__}" for cls in _exceptions()
              if not issubclass(cls, SecoError) and cls not in NOT_USER_ERRORS]
    assert not others, f"not SecoError subclasses (derive from seco.errors.SecoError): {others}"


@pytest.mark.parametrize("cls", USER_ERRORS, ids=lambda cls: cls.__name__)
def test_the_cli_prints_a_seco_error_as_one_line(cls: type[SecoError], monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    error = _example(cls)

    def fail(_args: object) -> int:
        raise error

    monkeypatch.setattr("seco.commands.run_command", fail)
    assert main(["configs"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"seco configs: error: {error}"], captured.err
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("cls", [*USER_ERRORS, *NOT_USER_ERRORS], ids=lambda cls: cls.__name__)
def test_an_error_unpickles_with_its_message_and_fields(cls: type[BaseException]) -> None:
    """``seco bench scale`` passes a run's error from its worker process to the parent."""
    error = _example(cls)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls and str(again) == str(error) and vars(again) == vars(error)


def test_a_stop_on_a_signal_keeps_its_exit_status(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    def stop(_args: object) -> int:
        raise _example(TrainingInterrupted)

    monkeypatch.setattr("seco.commands.run_command", stop)
    assert main(["configs"]) == 128 + 15
    assert capsys.readouterr().err.startswith("seco configs: stopped by SIGTERM at iteration 3 of 10")
