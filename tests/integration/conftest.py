import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# The longest tests of the parallel phase (three simulator sweeps of 60-90 s each) start first, so that none of
# them is left to run alone at the phase's end while the other workers idle (pytest-xdist hands tests out in
# collection order).
LONG_FIRST = ("test_run_simulator.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: 0 if item.path.name in LONG_FIRST else 1)
