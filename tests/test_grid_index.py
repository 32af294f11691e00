"""The IQ encoders' lookup indexes (csrc/formats/common/iq2_grid_index.cpp, iq3_grid_index.cpp),
rebuilt here from the decoder grids by the plain definition ggml's iq2xs_init_impl / iq3xs_init_impl
use: for every off-grid key whose levels the encoder can form, every grid point whose squared
distance is among the `nwant` smallest distinct distances, ordered by (distance, grid index).
The C++ builds take shortcuts (byte distance rows, vector minimums, buckets); every array they
produce must equal this construction exactly, layout and padding included."""
from __future__ import annotations

import numpy as np
import pytest

from dgkernels import _core

# lattice -> (decoder grid, grid points, nwant)
IQ2 = {
    "iq2xxs": ("iq2xxs_grid", 256, 2),
    "iq2xs": ("iq2xs_grid", 512, 2),
    "iq2s": ("iq2s_grid", 1024, 1),
    "iq1": ("iq1s_grid", 2048, 3),
}
IQ3 = {"iq3xxs": ("iq3xxs_grid", 256, 2), "iq3s": ("iq3s_grid", 512, 3)}


def _levels(table: str, size: int, coords: int) -> np.ndarray:
    """(size, coords) level numbers: each grid byte's rank among the grid's distinct bytes."""
    raw = np.frombuffer(_core.table(table), dtype=np.int8).reshape(size, coords)  # IQ1: -1, 0, 1
    values = np.unique(raw)
    return np.searchsorted(values, raw).astype(np.int64)


def _nearest(dist: np.ndarray, nwant: int) -> list[np.ndarray]:
    """Per row of dist (keys x points): the points within the nwant smallest distinct distances,
    ordered by (distance, index)."""
    out = []
    for row in dist:
        kept = np.unique(row)[:nwant]
        idx = np.nonzero(row <= kept[-1])[0]
        out.append(idx[np.argsort(row[idx], kind="stable")])
    return out


def _assert_index(index: dict, expected: dict) -> None:
    """Each raw array of `index`, read as expected[name] = (dtype, values), equals the values."""
    for name, (dtype, values) in expected.items():
        np.testing.assert_array_equal(np.frombuffer(index[name], dtype=dtype), values, err_msg=name)


@pytest.mark.parametrize("lattice", list(IQ2))
def test_iq2_index_matches_definition(lattice):
    table, size, nwant = IQ2[lattice]
    lv = _levels(table, size, 8)
    assert lv.max() == 2
    grid_keys = (lv << (2 * np.arange(8))).sum(axis=1)
    gmap = np.full(1 << 16, -1, np.int64)
    gmap[grid_keys] = np.arange(size)

    # Keys with every level in 0..2, in increasing order, that are not grid points.
    keys = np.arange(1 << 16)
    klv = (keys[:, None] >> (2 * np.arange(8))) & 3
    keys = keys[(klv < 3).all(axis=1) & (gmap < 0)]
    klv = klv[keys]
    dist = np.zeros((len(keys), size), np.int64)
    for j in range(8):
        dist += (klv[:, j, None] - lv[None, :, j]) ** 2

    points = [1, 0, 0, 0, 0, 0, 0, 0, 0]  # offset 0: the fallback list of the keys with a level 3
    offset = np.zeros(1 << 16, np.int64)
    for key, nb in zip(keys, _nearest(dist, nwant)):
        offset[key] = len(points)
        padded = -(-len(nb) // 8) * 8
        points += [len(nb), *nb.tolist(), *[0] * (padded - len(nb))]
    points = np.array(points, np.int64)
    # nb_keys: the same lists with each grid index replaced by its key, padding 0xffff.
    nbkeys = np.full(len(points), 0xFFFF, np.int64)
    at = 0
    while at < len(points):
        count = points[at]
        nbkeys[at] = count
        nbkeys[at + 1 : at + 1 + count] = grid_keys[points[at + 1 : at + 1 + count]]
        at += 1 + -(-count // 8) * 8

    _assert_index(
        _core.grid_index(lattice),
        {
            "levels": (np.int8, lv.ravel()),
            "odd": (np.float32, (2 * lv + 1).ravel()),
            "grid_keys": (np.uint16, grid_keys),
            "map": (np.int32, gmap),
            "nb_offset": (np.uint32, offset),
            "nb_points": (np.uint16, points),
            "nb_keys": (np.uint16, nbkeys),
        },
    )


@pytest.mark.parametrize("grid", list(IQ3))
def test_iq3_index_matches_definition(grid):
    table, size, nwant = IQ3[grid]
    lv = _levels(table, size, 4)
    assert lv.max() == 7
    grid_keys = (lv << (3 * np.arange(4))).sum(axis=1)
    gmap = np.full(4096, -1, np.int64)
    gmap[grid_keys] = np.arange(size)

    keys = np.nonzero(gmap < 0)[0]
    klv = (keys[:, None] >> (3 * np.arange(4))) & 7
    dist = np.zeros((len(keys), size), np.int64)
    for i in range(4):
        dist += (2 * (klv[:, i, None] - lv[None, :, i])) ** 2
    lists = dict(zip(keys.tolist(), _nearest(dist, nwant)))

    begin, nb, nb_value = [], [], []
    for key in range(4096):
        begin.append(len(nb))
        cand = lists.get(key, np.zeros(0, np.int64))
        nb += cand.tolist()
        nb_value += (2 * lv[cand] + 1).T.ravel().tolist()  # by coordinate, then candidate
    begin.append(len(nb))

    _assert_index(
        _core.grid_index(grid),
        {
            "level": (np.uint8, lv.ravel()),
            "value": (np.float32, (2 * lv + 1).ravel()),
            "grid_of_key": (np.int16, gmap),
            "nb_begin": (np.uint32, begin),
            "nb": (np.uint16, nb),
            "nb_value": (np.float32, nb_value),
        },
    )


def test_unknown_index_name():
    with pytest.raises(ValueError):
        _core.grid_index("iq4nl")
