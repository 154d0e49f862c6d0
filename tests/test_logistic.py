"""The batched logistic fit (LRCos's): known answers, scikit-learn's liblinear, and numpy = torch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit

from wordembed.analyses import logistic
from wordembed.analyses.logistic import fit_logistic_folds, namespace, newton_dual, newton_shared
from wordembed.errors import ParameterError

torch = pytest.importorskip("torch")


def _liblinear(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> tuple[np.ndarray, float]:
    """What the fit mimics: liblinear, L2, balanced class weights, intercept penalised (scaling 1)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(solver="liblinear", class_weight="balanced", C=c, tol=1e-12, max_iter=100_000)
    model.fit(x, y)
    return model.coef_[0], float(model.intercept_[0])


def test_symmetric_two_points_known_answer() -> None:
    """x = +1 (label 1), x = -1 (label 0), weights 1: by symmetry b = 0 and w solves w = 2 c sigmoid(-w)."""
    for c in (1.0, 0.5, 3.0):
        w_star = brentq(lambda w, c=c: w - 2 * c * expit(-w), 0.0, 10.0, xtol=1e-15)
        coefs, icpt = fit_logistic_folds([np.array([[1.0], [-1.0]])], [np.array([1, 0])], c=c)
        assert coefs[0, 0] == pytest.approx(w_star, abs=1e-12) and icpt[0] == pytest.approx(0.0, abs=1e-12)
        ref_w, ref_b = _liblinear(np.array([[1.0], [-1.0]]), np.array([1, 0]), c)
        assert ref_w[0] == pytest.approx(w_star, abs=1e-6) and ref_b == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("separable", [True, False])
def test_folds_equal_liblinear(separable: bool) -> None:
    """Folds of different sizes and class balance; separable data stay finite (the L2 penalty)."""
    rng = np.random.default_rng(3)
    xs, ys = [], []
    for n_pos, n_neg in ((4, 9), (7, 7), (12, 5)):
        shift = 3.0 if separable else 0.4
        x = np.concatenate([rng.normal(shift, 1.0, (n_pos, 3)), rng.normal(-shift, 1.0, (n_neg, 3))])
        y = np.concatenate([np.ones(n_pos, int), np.zeros(n_neg, int)])
        xs.append(x)
        ys.append(y)
    if separable:
        assert all(((x @ np.ones(3) > 0) == (y > 0)).all() for x, y in zip(xs, ys, strict=True))
    coefs, icpts = fit_logistic_folds(xs, ys, c=1.0)
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ref_w, ref_b = _liblinear(x, y)
        np.testing.assert_allclose(coefs[k], ref_w, atol=1e-6)
        assert icpts[k] == pytest.approx(ref_b, abs=1e-6)


def _shared_problem(rng: np.random.Generator, rows: int, own: int, d: int) -> tuple[np.ndarray, ...]:
    a = np.hstack([rng.normal(size=(rows, d - 1)), np.ones((rows, 1))])
    ya = np.where(rng.random(rows) < 0.5, 1.0, -1.0)
    wa = rng.uniform(0.5, 2.0, (3, rows)) * (rng.random((3, rows)) > 0.2)
    xb = np.concatenate([rng.normal(size=(3, own, d - 1)), np.ones((3, own, 1))], axis=2)
    yb = -np.ones((3, own))
    wb = rng.uniform(0.5, 2.0, (3, own))
    return a, ya, wa, xb, yb, wb


@pytest.mark.parametrize(("rows", "own", "d"), [(30, 10, 6), (6, 4, 25)])  # primal, then dual (rows < d)
def test_numpy_and_torch_give_the_same_fit(rows: int, own: int, d: int) -> None:
    """One implementation on both namespaces: the same optimum to float64 rounding (and each at it)."""
    problem = _shared_problem(np.random.default_rng(7), rows, own, d)
    w_np = newton_shared(*problem)
    xp = namespace("torch")
    w_t = newton_shared(*(torch.from_numpy(p) for p in problem), xp=xp)
    assert isinstance(w_t, torch.Tensor) and w_t.dtype == torch.float64
    np.testing.assert_allclose(w_t.numpy(), w_np, rtol=1e-9, atol=1e-12)
    a, ya, wa, xb, yb, wb = problem
    grad = w_np + (wa * (expit(ya * (w_np @ a.T)) - 1.0) * ya) @ a
    grad += ((wb * (expit(yb * (xb @ w_np[:, :, None])[:, :, 0]) - 1.0) * yb)[:, None, :] @ xb)[:, 0, :]
    assert np.abs(grad).max() < 1e-10  # the optimum, not just agreement


def test_dual_iterates_reach_the_primal_optimum() -> None:
    """newton_dual is called for rows < features; forced on a primal-sized problem it finds the same w."""
    problem = _shared_problem(np.random.default_rng(2), 30, 10, 6)
    np.testing.assert_allclose(newton_dual(*problem), newton_shared(*problem), rtol=1e-9, atol=1e-12)


def test_backends_agree_in_fit_logistic_folds() -> None:
    rng = np.random.default_rng(5)
    xs = [rng.normal(size=(m, 4)) for m in (9, 14)]
    ys = [rng.permutation(np.arange(m) % 2) for m in (9, 14)]  # both classes, unbalanced in the first
    c_np, b_np = fit_logistic_folds(xs, ys, backend="numpy")
    c_t, b_t = fit_logistic_folds(xs, ys, backend="torch")
    np.testing.assert_allclose(c_t, c_np, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b_t, b_np, rtol=1e-9, atol=1e-12)


def test_errors_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match="backend='jax'; valid: numpy, torch"):
        fit_logistic_folds([np.zeros((2, 1))], [np.array([0, 1])], backend="jax")
    with pytest.raises(ParameterError, match="ys: a training fold needs both"):
        fit_logistic_folds([np.zeros((2, 1))], [np.array([1, 1])])
    assert logistic.BACKENDS == ("numpy", "torch")
