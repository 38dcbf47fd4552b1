import numpy as np
import pytest

from lib import metrics, problems, report


def test_trace_norm_broadcasts_and_matches_definition():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 2, 5, 4))
    tn = metrics.trace_norm(W)
    assert tn.shape == (3, 2)
    for idx in np.ndindex(3, 2):
        assert tn[idx] == pytest.approx(np.linalg.norm(W[idx], "nuc"), rel=1e-12)
    assert metrics.trace_norm(np.diag([1.0, 1.0, 0.0])) == pytest.approx(2.0)


def test_loss_from_moments_equals_direct_loss():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((40, 5)), rng.standard_normal((40, 3))
    W = rng.standard_normal((7, 5, 3))
    direct = np.array([np.sum((Y - X @ w) ** 2) / (2 * 40) for w in W])
    np.testing.assert_allclose(metrics.loss(X, Y, W), direct, rtol=1e-12)
    assert (
        metrics.loss(X, X, np.eye(5)) == 0.0
    )  # clipped at an exact fit, never negative
    with pytest.raises(ValueError, match="W must have trailing shape"):
        metrics.loss(X, Y, np.zeros((3, 5)))


def test_crossing_times_interpolate_and_flag_missing():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([[0.0, 0.0], [0.2, 0.0], [0.6, 0.1], [1.0, 0.2]])
    out = metrics.crossing_times(t, y, 0.4)
    assert out[0] == pytest.approx(1.5)
    assert np.isnan(out[1])
    with pytest.raises(ValueError, match="never reaches half"):
        metrics.half_way_crossings(t, y, [0.8, 1.0])
    assert metrics.half_way_crossings(t, y[:, :1], [0.8])[0] == pytest.approx(1.5)


def test_modes_to_map_inverts_mode_strengths(aligned):
    A = aligned["A"]
    w = np.random.default_rng(3).standard_normal((7, 2, 4))
    W = metrics.modes_to_map(A.U, A.V, w)
    assert W.shape == (7, 2, 6, 5)
    np.testing.assert_allclose(metrics.mode_strengths(W, A.U, A.V, 4), w, atol=1e-14)
    with pytest.raises(ValueError, match="modes"):
        metrics.modes_to_map(A.U, A.V, np.ones(6))


def test_mode_strengths_and_distance():
    U, V = np.eye(3), np.eye(2)
    W = np.array([[2.0, 0.1], [0.0, 3.0], [0.0, 0.0]])
    np.testing.assert_allclose(metrics.mode_strengths(W, U, V), [2.0, 3.0])
    assert metrics.relative_distance(W, W) == 0.0
    assert metrics.relative_distance(2 * W, W) == pytest.approx(1.0)


def test_report_formats_are_stable_and_verdicts_honest(capsys):
    assert report.sig(0.012345) == "0.0123"
    assert report.decade(3.1e-11) == "1e-10"
    assert report.decade(1e-10) == "1e-10"
    assert report.decade(0.0) == "0"
    assert report.sig(3e-15, atol=1e-10) == "0"
    assert report.check("x", [1e-12, -3e-11], 1e-7) is True
    assert (
        report.check("noise", 3e-16, 1e-8) is True
    )  # printed at the floor max(tol / 1e3, 1e-13)
    assert report.check("y", 1e-3, 1e-8) is False
    out = capsys.readouterr().out
    assert "x: max error <= 1e-10, tolerance 1e-07: OK" in out
    assert "noise: max error <= 1e-11, tolerance 1e-08: OK" in out
    assert "y: max error = 0.001, tolerance 1e-08: FAIL" in out
    assert report.check("near", 0.0123, 0.02) is True
    assert "near: max error = 0.012, tolerance 0.02: OK" in capsys.readouterr().out
    with pytest.raises(ValueError, match="finite"):
        report.check("z", np.nan, 1.0)


def test_off_mode_part_and_mode_coordinates_batch_over_bases():
    rng = np.random.default_rng(4)
    U = np.stack([problems.random_orthogonal(5, rng) for _ in range(3)])  # (3, 5, 5)
    V = np.stack([problems.random_orthogonal(4, rng) for _ in range(3)])  # (3, 4, 4)
    C = rng.standard_normal((2, 3, 5, 4))  # coordinates, per time and basis
    W = U @ C @ np.swapaxes(V, -1, -2)  # maps with those coordinates
    np.testing.assert_allclose(metrics.mode_coordinates(W, U, V), C, atol=1e-12)
    off = metrics.off_mode_part(W, U, V)
    np.testing.assert_allclose(np.diagonal(off, axis1=-2, axis2=-1), 0.0)
    C[..., np.arange(4), np.arange(4)] = 0.0
    np.testing.assert_allclose(off, C, atol=1e-12)
    with pytest.raises(ValueError, match="rows"):
        metrics.mode_coordinates(W, U[:, :4], V)


def test_rank_truncation_is_the_best_rank_k_approximation():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((3, 6, 4))
    s = np.linalg.svd(W, compute_uv=False)
    for k in range(5):
        Wk = metrics.rank_truncation(W, k)
        assert np.all(np.linalg.matrix_rank(Wk) == k) if k else np.all(Wk == 0)
        # Eckart-Young: the error is the norm of the discarded singular values, and no
        # random rank-k map does better
        err = np.linalg.norm(W - Wk, axis=(-2, -1))
        np.testing.assert_allclose(
            err, np.sqrt(np.sum(s[:, k:] ** 2, axis=-1)), atol=1e-12
        )
        if 0 < k < 4:
            R = rng.standard_normal((3, 6, k)) @ rng.standard_normal((3, k, 4))
            assert np.all(np.linalg.norm(W - R, axis=(-2, -1)) > err)
    with pytest.raises(ValueError, match="k"):
        metrics.rank_truncation(W, 5)


def test_loss_uses_the_data_moments():
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal((30, 2))
    W = rng.standard_normal((5, 4, 2))
    direct = np.sum((Y - X @ W) ** 2, axis=(-2, -1)) / (2 * 30)
    np.testing.assert_allclose(metrics.loss(X, Y, W), direct, rtol=1e-12)
    with pytest.raises(ValueError, match="trailing shape"):
        metrics.loss(X, Y, W[..., :1])


def test_rank_truncation_of_several_ranks_shares_one_svd():
    W = np.random.default_rng(9).standard_normal((2, 5, 3))
    several = metrics.rank_truncation(W, [0, 2, 3])
    for j, k in enumerate([0, 2, 3]):
        np.testing.assert_array_equal(several[j], metrics.rank_truncation(W, k))
