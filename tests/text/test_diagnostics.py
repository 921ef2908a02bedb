"""``zeroskel.text.diagnostics``: label-free text checks, on the shipped UTD-MHAD file with the real MiniLM encoder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from zeroskel.data.protocols import get_protocol, list_protocols
from zeroskel.text.diagnostics import ALL, check_embeddings, check_side_info, loo_top1
from zeroskel.text.sideinfo import PHASES, SideInformation, load_shipped

UTD_FOLDS = ["utd-f1", "utd-f2", "utd-f3", "utd-f4", "utd-f5"]


@pytest.fixture(scope="module")
def utd():
    return load_shipped("utd-mhad")


@pytest.fixture(scope="module")
def utd_report(utd, minilm):
    protocols = {n: get_protocol(n).as_dict()["unseen_names"] for n in list_protocols("utd-mhad") if n in UTD_FOLDS}
    return check_side_info(utd, minilm, protocols=protocols)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_report_json_shape_and_ranges(utd, utd_report):
    d = json.loads(json.dumps(utd_report.as_dict()))  # JSON-serialisable as is
    K = len(utd)
    assert d["dataset"] == "utd-mhad" and d["num_classes"] == K == 27 and d["num_descriptions"] == utd.num_descriptions
    assert d["encoder"] == "minilm:all-MiniLM-L6-v2" and d["chance"] == pytest.approx(100 / 27)
    assert list(d["phases"]) == [*PHASES, ALL]
    for phase, row in d["phases"].items():
        assert 0.0 <= row["loo_top1"] <= 100.0, phase
        assert -1.0 <= row["between_mean"] <= row["between_max"] <= 1.0 + 1e-9, phase
        assert 0.0 < row["spread"] < 1.0, phase
        cosines = [p["cosine"] for p in row["closest"]]
        assert len(cosines) == 3 and cosines == sorted(cosines, reverse=True) and cosines[0] == row["between_max"]
        assert all(p["a"] in utd and p["b"] in utd for p in row["closest"])
    assert list(d["protocols"]) == UTD_FOLDS
    for name, row in d["protocols"].items():
        assert row["classes"] == get_protocol(name).as_dict()["unseen_names"]
        assert set(row["between_mean"]) == {*PHASES, ALL}
        for p in (*PHASES, ALL):
            assert -1.0 <= row["between_mean"][p] <= row["between_max"][p] <= d["phases"][p]["between_max"] + 1e-9
    lo, hi = d["protocol_range"][ALL]
    assert lo == min(r["between_mean"][ALL] for r in d["protocols"].values()) and lo <= hi
    assert all(min(x["cosines"].values()) >= 0.9 and set(x["cosines"]) <= set(PHASES) for x in d["near_duplicates"])
    assert len(d["warnings"]) == len(d["near_duplicates"])


def test_loo_and_cosines_recomputed_independently(utd, utd_report, minilm):
    """One phase, from the encoder's raw output, with explicit loops: the library must give the same numbers."""
    phase = "temporal_middle"
    names = utd.class_names
    e = np.stack([_unit(minilm.encode(utd.texts(n, phase)).double().numpy()) for n in names])  # (K, N, D)
    K, N, _ = e.shape
    means = _unit(e.mean(axis=1))  # (K, D)
    hits = 0
    for k in range(K):
        for i in range(N):
            own = _unit(np.delete(e[k], i, axis=0).mean(axis=0))
            scores = [float(e[k, i] @ (own if j == k else means[j])) for j in range(K)]
            hits += int(np.argmax(scores) == k)
    row = utd_report.phase(phase)
    assert row.loo_top1 == pytest.approx(100.0 * hits / (K * N), abs=1e-9)
    between = [float(means[j] @ means[l]) for j in range(K) for l in range(j + 1, K)]
    assert row.between_mean == pytest.approx(np.mean(between), abs=1e-5)
    assert row.between_max == pytest.approx(max(between), abs=1e-5)
    spread = np.mean([np.mean([1 - e[k, i] @ means[k] for i in range(N)]) for k in range(K)])
    assert row.spread == pytest.approx(spread, abs=1e-5)
    near = {(names[j], names[l]) for j in range(K) for l in range(j + 1, K) if means[j] @ means[l] >= 0.9}
    assert near == {(x.a, x.b) for x in utd_report.near_duplicates if phase in x.cosines}
    unseen = get_protocol("utd-f2").as_dict()["unseen_names"]
    sel = [names.index(n) for n in unseen]
    fold = [float(means[j] @ means[l]) for a, j in enumerate(sel) for l in sel[a + 1:]]
    assert utd_report.protocols[1].between_mean[phase] == pytest.approx(np.mean(fold), abs=1e-5)


def test_all_phases_row_pools_descriptions():
    """The pooled row: class mean over the 6 N_a descriptions, LOO over all of them."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 4, 3, 8))
    rows, _, _ = check_embeddings(emb, ["a", "b", "c", "d"])
    pooled = _unit(emb).transpose(1, 0, 2, 3).reshape(4, 18, 8)  # (K, 6 N_a, D)
    assert rows[-1].phase == ALL and rows[-1].loo_top1 == loo_top1(pooled)
    m = _unit(pooled.mean(axis=1))
    assert rows[-1].between_mean == pytest.approx(np.mean([m[j] @ m[l] for j in range(4) for l in range(j + 1, 4)]))


TOPICS = {
    "swim": "The swimmer pulls both arms through the water in long freestyle strokes, kicking the legs",
    "juggle": "Three juggling balls are tossed upward by alternating hands in a cascade above the face",
    "type": "The fingers tap keys on a computer keyboard while the wrists rest on the desk",
    "kick": "The right foot swings forward from the hip and strikes a football on the grass",
}


def _separable(extra: dict[str, str] | None = None) -> SideInformation:
    topics = {**TOPICS, **(extra or {})}
    detail = ["quickly", "slowly", "with great effort"]
    return SideInformation(
        {c: {p: [f"{t}, {d} ({p.split('_')[1]} part)." for d in detail] for p in PHASES} for c, t in topics.items()},
        dataset="constructed", source="test")


def test_separable_classes_give_loo_100(minilm):
    report = check_side_info(_separable(), minilm)
    for row in report.phases:
        assert row.loo_top1 == 100.0, row.phase
        assert row.between_max < 0.9
    assert report.near_duplicates == [] and report.warnings == [] and report.chance == 25.0


def test_near_duplicate_classes_are_warned(minilm):
    twin = {"swim (crawl)": "The swimmer pulls both arms through the water in long freestyle strokes, kicking legs"}
    report = check_side_info(_separable(twin), minilm)
    assert [(d.a, d.b) for d in report.near_duplicates] == [("swim", "swim (crawl)")]
    assert set(report.near_duplicates[0].cosines) == set(PHASES)
    assert len(report.warnings) == 1 and "'swim' and 'swim (crawl)'" in report.warnings[0]
    text = report.format_text()
    assert "warning: near-duplicate classes 'swim' and 'swim (crawl)'" in text
    assert report.phase(ALL).closest[0].a == "swim" and report.phase(ALL).closest[0].b == "swim (crawl)"


def test_protocol_errors_and_single_description():
    names = ["a", "b", "c"]
    emb = np.random.default_rng(1).normal(size=(6, 3, 1, 5))
    rows, protos, _ = check_embeddings(emb, names, protocols={"p": ["c", "a"]})
    assert all(r.loo_top1 is None for r in rows[:-1]) and rows[-1].loo_top1 is not None  # pooled: 6 descriptions
    assert protos[0].classes == ["c", "a"]
    with pytest.raises(ValueError, match=r"protocol 'q': unseen classes \['z'\]"):
        check_embeddings(emb, names, protocols={"q": ["a", "z"]})
    with pytest.raises(ValueError, match="at least 2 unseen"):
        check_embeddings(emb, names, protocols={"q": ["a"]})
    with pytest.raises(ValueError, match="at least 2 classes"):
        check_embeddings(emb[:, :1], names[:1])
