"""scripts/faces/attribute_mix.py: cells of the discrete attributes, matching real faces cell by cell, and that the
matched distance removes what a different mix of the other attributes adds to the Frechet distance."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "faces"))
import attribute_mix  # noqa: E402


def reading(smile, glasses, beard, hat, hair):
    return {"smile": np.array(smile), "glasses": np.array(glasses), "beard": np.array(beard),
            "hat": np.array(hat), "hair": np.array(hair)}


def test_cells_name_each_combination_once():
    r = reading([0, 1, 0, 0, 0, 1], [0, 0, 1, 0, 0, 1], [0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 4])
    c = attribute_mix.cells(r)
    assert list(c[:5]) == [0, 40, 20, 10, 5]  # smile*40 + glasses*20 + beard*10 + hat*5 + hair (5 classes)
    assert c[5] == 79
    every = np.array(np.meshgrid([0, 1], [0, 1], [0, 1], [0, 1], range(5))).reshape(5, -1)
    assert len(set(attribute_mix.cells(reading(*every)))) == 80


def test_matched_takes_faces_of_the_same_cell_without_repeats_while_it_can():
    pool = np.array([10, 11, 12, 13, 14])
    pool_cells = np.array([3, 3, 5, 5, 5])
    m = attribute_mix.matched(np.array([5, 3, 5, 5, 3, 9, 3]), pool, pool_cells, np.random.default_rng(1))
    assert set(m[[0, 2, 3]]) == {12, 13, 14}  # three faces of cell 5 for three samples: each once
    assert set(m[[1, 4]]) == {10, 11} and m[6] in (10, 11)  # cell 3 ran out on the third: one repeats
    assert m[5] == -1  # no face in cell 9


def test_the_matched_distance_removes_a_different_mix():
    """Real faces whose features are their cell's centre plus noise; samples drawn the same way but all with
    glasses where the real set has them on one face in five: the plain FD sees the mix, the matched one does not."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (80, 6))

    def faces(n, glasses_rate):
        r = reading(rng.integers(0, 2, n), (rng.random(n) < glasses_rate).astype(int), rng.integers(0, 2, n),
                    np.zeros(n, int), rng.integers(0, 5, n))
        return r, centres[attribute_mix.cells(r)] + rng.normal(0, 1, (n, 6))

    real_pred, real_feat = faces(20000, 0.2)
    pred, feat = faces(300, 1.0)
    pool = np.arange(20000)
    plain, matched, left_out = attribute_mix.distances(feat, pred, real_feat[:2000], real_feat, real_pred, pool)
    assert left_out == 0
    assert plain > 5 and matched < 1, (plain, matched)
    # with the real set's own mix, plain and matched agree (both small)
    pred2, feat2 = faces(300, 0.2)
    plain2, matched2, _ = attribute_mix.distances(feat2, pred2, real_feat[:2000], real_feat, real_pred, pool)
    assert plain2 < 1 and matched2 < 1, (plain2, matched2)


def test_largest_gap_names_the_attribute_whose_mix_differs_most():
    lace = {"smile": 0.5, "glasses": 0.66, "beard": 1.0, "hat": 0.0, "hair": [0.3, 0.4, 0.1, 0.1, 0.1],
            "age": [0.6, 0.1], "yaw": [0.0, 0.5]}
    real = {"smile": 0.48, "glasses": 0.28, "beard": 1.0, "hat": 0.13, "hair": [0.3, 0.25, 0.15, 0.1, 0.2],
            "age": [0.55, 0.2], "yaw": [0.05, 0.5]}
    text, gap = attribute_mix.largest_gap(lace, real)
    assert text == "glasses 0.66 vs 0.28" and abs(gap - 0.38) < 1e-9
    real["yaw"] = [-0.5, 0.5]
    assert attribute_mix.largest_gap(lace, real)[0] == "yaw +0.00 vs -0.50"


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
