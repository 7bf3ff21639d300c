"""Trivial baselines: box fill, inscribed ellipse, Otsu in the box."""

import numpy as np
import pytest

from classicseg.methods.baselines import TRIVIAL_BASELINES, trivial_baselines
from classicseg.metrics import dice
from classicseg.validation import InvalidInputError


def test_box_fill_and_ellipse_areas_and_otsu_finds_the_object():
    img = np.full((60, 60, 3), 30, np.uint8)
    img[20:40, 15:45] = 220                                   # the object fills the box
    box = [[15, 20, 44, 39]]
    maps = trivial_baselines(img, box)
    assert tuple(maps) == TRIVIAL_BASELINES
    assert (maps["box fill"] == 1).sum() == 30 * 20
    assert 0.7 < (maps["inscribed ellipse"] == 1).sum() / 600 < 0.85     # ~ pi / 4
    gt = np.zeros((60, 60), bool)
    gt[20:40, 15:45] = True
    assert dice(gt, maps["box fill"] == 1) == 1.0
    loose = [[5, 10, 54, 49]]
    assert dice(gt, trivial_baselines(img, loose)["Otsu in the box"] == 1) == 1.0
    assert dice(gt, trivial_baselines(img, loose)["box fill"] == 1) < 0.5
    inverted = 255 - img                                      # a dark object: Otsu keeps the centre
    assert dice(gt, trivial_baselines(inverted, loose)["Otsu in the box"] == 1) == 1.0


def test_3d_boxes_and_bad_input():
    vol = np.zeros((10, 20, 20), np.uint8)
    vol[3:7, 5:15, 5:15] = 100
    maps = trivial_baselines(vol, [[4, 4, 2, 15, 15, 7]])
    assert maps["box fill"].shape == vol.shape and (maps["box fill"] == 1).sum() == 6 * 12 * 12
    assert (maps["Otsu in the box"] == 1).sum() == 4 * 10 * 10
    with pytest.raises(InvalidInputError, match="boxes"):
        trivial_baselines(np.zeros((5, 5)), [[0, 0, 9, 9]])
