"""Synthetic NTU ``.skeleton`` files: the real NTU reader parses them into the expected samples."""
from __future__ import annotations

import numpy as np
import pytest

from zeroskel.data.readers.ntu import load_ntu, parse_ntu_name, parse_skeleton_file
from zeroskel.data.synthetic import MUTUAL_ACTIONS, _Field, format_fixed, generate_ntu, ntu_names


def test_format_fixed_matches_python_formatting():
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.uniform(-9.9, 9.9, 500), rng.uniform(-999, 999, 500),
                              rng.integers(-9, 10, 500)]).astype(np.float64)
    values[:3, 0] = [0.0, -0.00000004, -0.5]   # zero, a negative that rounds to zero, a "-0.x"
    fields = [_Field(1, 7), _Field(3, 3), _Field(1, 0)]
    rows = format_fixed(values, fields)
    for row, v in zip(rows, values):
        parts = row.tobytes().decode().split()
        assert [float(x) for x in parts] == pytest.approx(
            [round(v[0], 7), round(v[1], 3), v[2]], abs=1e-9)
    assert rows[0].tobytes().decode().split()[0] == "0.0000000"
    assert rows[1].tobytes().decode().split()[0] == "0.0000000"   # no "-0.0000000"
    assert rows[2].tobytes().decode().split()[0] == "-0.5000000"
    with pytest.raises(ValueError, match="does not fit"):
        format_fixed(np.array([[12.0]]), [_Field(1, 2)])


def test_names_are_distinct_and_spread():
    names = ntu_names(3000)
    assert len(set(names)) == 3000
    info = [parse_ntu_name(n) for n in names]
    assert {i["action"] for i in info} == set(range(1, 61))
    assert len({i["performer"] for i in info}) == 40 and {i["camera"] for i in info} == {1, 2}
    with pytest.raises(ValueError, match="count must be"):
        ntu_names(60 * 40 * 3 * 2 * 17 + 1)


def test_reader_parses_generated_files(tmp_path):
    paths = generate_ntu(tmp_path / "ntu", 130, seed=3)
    assert len(paths) == 130
    again = generate_ntu(tmp_path / "again", 130, seed=3)
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(paths, again))
    ds = load_ntu(tmp_path / "ntu", 60, progress=False)
    assert ds.skipped == [] and len(ds) == 130 and ds.layout == "ntu25"
    by_name = {s.name: s for s in ds.samples}
    for path in paths:
        sample = by_name[path.stem]
        info = parse_ntu_name(path)
        frames = parse_skeleton_file(path)
        assert sample.label == info["action"] - 1 and sample.subject == info["performer"]
        people = 2 if info["action"] in MUTUAL_ACTIONS else 1
        assert sample.joints.shape == (people, len(frames), 25, 3)
        assert 30 <= len(frames) <= 300
        # plausible: a standing person 2-4 m from the camera, y spread > x spread
        xyz = sample.joints
        assert 1.5 < float(xyz[..., 2].mean()) < 4.5
        assert np.ptp(xyz[0, 0, :, 1]) > np.ptp(xyz[0, 0, :, 0])
        assert np.abs(np.diff(xyz, axis=1)).max() < 0.5
    # some files hold a short noise body that the reader discards
    assert any("noise_bodies" in s.meta for s in ds.samples)
    assert {s.joints.shape[0] for s in ds.samples} == {1, 2}
