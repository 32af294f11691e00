import numpy as np
import pytest

import dgkernels as dg


@pytest.fixture(params=dg.available_isas())
def isa(request):
    """Runs a test once per instruction set this CPU supports."""
    with dg.using_isa(request.param):
        yield request.param


@pytest.fixture
def rng(request):
    """Fresh random data each run; the seed is printed on failure so a run can be replayed."""
    seed = int(np.random.SeedSequence().entropy % (2**32))
    request.node.user_properties.append(("seed", seed))
    print(f"rng seed = {seed}")
    return np.random.default_rng(seed)
