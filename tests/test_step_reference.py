"""The step's numbers do not move: a short run's losses and final weights against a recorded reference.

The reference (``tests/data/step_reference.pt``, from ``python tests/step_reference.py``) was recorded before the
package layout changed, so a move or a refactor that changes what the step computes fails here. Under the torch
version that recorded it the comparison is bit for bit; another torch version may pick other kernels, so there
the losses and weights need only agree to float tolerance.
"""

from __future__ import annotations

import pytest
import torch
from step_reference import PRESETS, REFERENCE, run_all


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_all(tmp_path_factory.mktemp("step_reference"))


@pytest.mark.parametrize("fidelity", PRESETS)
def test_short_run_reproduces_the_recorded_losses_and_weights(replayed: dict, fidelity: str) -> None:
    recorded = torch.load(REFERENCE, weights_only=True)
    exact = recorded["torch"] == str(torch.__version__)
    tolerance = {"rtol": 0.0, "atol": 0.0} if exact else {"rtol": 1e-4, "atol": 1e-5}
    want, got = recorded[fidelity], replayed[fidelity]
    assert sorted(got["losses"]) == sorted(want["losses"]), "the set of logged losses changed"
    for tag, points in want["losses"].items():
        assert [s for s, _ in got["losses"][tag]] == [s for s, _ in points], tag
        torch.testing.assert_close(torch.tensor([v for _, v in got["losses"][tag]]),
                                   torch.tensor([v for _, v in points]), **tolerance, msg=tag)
    assert sorted(got["weights"]) == sorted(want["weights"])
    for name, tensor in want["weights"].items():
        torch.testing.assert_close(got["weights"][name], tensor, **tolerance, msg=name)
