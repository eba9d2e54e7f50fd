"""scripts/faces/evaluate.py's selection of conditions: --conditions names rows of the table exactly (each
keeps the seed of its place in the table, so an A/B of two bundles samples the same z), and a name that is
not in the table is refused with one line. Runs under pytest or directly."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import evaluate  # noqa: E402


def test_conditions_are_named_exactly():
    assert evaluate.chosen_conditions(None) is None
    assert evaluate.chosen_conditions("hat; yaw=0.6 ;glasses AND hat") == {"hat", "yaw=0.6", "glasses AND hat"}
    table = [expr for expr, _, _ in evaluate.CONDITIONS]
    assert all(evaluate.chosen_conditions(e) == {e} for e in table)


def test_a_condition_not_in_the_table_is_refused():
    with pytest.raises(SystemExit, match="'hats' is not in the table"):
        evaluate.chosen_conditions("hat; hats")
    with pytest.raises(SystemExit, match="not in the table"):  # the table spells ANDs in capitals
        evaluate.chosen_conditions("smile and glasses")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
