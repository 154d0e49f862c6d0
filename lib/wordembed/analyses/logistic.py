"""Batched L2 logistic regression at liblinear's optimum, one code path on numpy or torch (LRCos's fit).

Why its own module: LRCos (:mod:`wordembed.analyses.analogy`) fits one logistic regression per test pair,
40 x 50 of them on BATS, and a fit per call of scikit-learn's liblinear cost vecto most of its time. Here
all folds are one sequence of batched Newton steps. The same functions run on numpy arrays or torch tensors
(array-namespace style: every operation goes through the namespace ``xp`` of :data:`NUMPY` or :data:`TORCH`,
only the handful of calls the two libraries spell differently live there), so one implementation is tested
on both and can move to a GPU unchanged.

The objective is liblinear's, which ``sklearn.linear_model.LogisticRegression(solver="liblinear",
class_weight="balanced", C=c)`` minimises (penalty L2, ``intercept_scaling=1``, so the intercept is
penalised like a weight)::

    0.5 |[w, b]|^2 + sum_i s_i log(1 + exp(-y_i [w, b] . [x_i, 1]))      y_i = +-1,  s_i = c * n / (2 n_class)

Newton's method from 0 stops when the gradient's max-abs is below ``tol`` (1e-10 by default): at the optimum
to float64 precision, so the fits agree with liblinear to liblinear's own tolerance and with each other (numpy
against torch) to float64 rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wordembed.errors import ParameterError

# Above this many features the batched (D+1)-square solves run in torch: its batched LAPACK calls were 5x
# faster than numpy's per-matrix loop at D = 384; below it numpy wins (no torch start-up, tiny systems).
TORCH_NEWTON_MIN_DIMS = 128
# The shared rows' Hessian terms as one product with their outer products (rows x D^2) up to this many
# elements (32 MiB): one well-shaped GEMM instead of one small one per fold; beyond it, per fold.
OUTER_PRODUCT_MAX = 1 << 22
BACKENDS: tuple[str, ...] = ("numpy", "torch")


@dataclass(frozen=True)
class Namespace:
    """The few array operations numpy and torch spell differently; everything else is shared syntax.

    ``solve`` is a plain batched solve; ``solve_large`` the one the primal Newton step uses, which on the
    numpy side hands systems above :data:`TORCH_NEWTON_MIN_DIMS` to torch's batched LAPACK (numpy loops
    over the matrices one by one).
    """

    name: str
    float32: Any
    float64: Any

    def asarray(self, x: Any, dtype: Any) -> Any:
        if self.name == "torch":
            import torch

            return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=dtype)
        return np.asarray(x, dtype=dtype)

    def astype(self, x: Any, dtype: Any) -> Any:
        return x.to(dtype) if self.name == "torch" else x.astype(dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy() if self.name == "torch" else np.asarray(x)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self._lib.zeros(shape, dtype=dtype)

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self._lib.empty(shape, dtype=dtype)

    def eye(self, d: int, dtype: Any) -> Any:
        return self._lib.eye(d, dtype=dtype)

    def concat(self, parts: Sequence[Any], axis: int) -> Any:
        return (
            self._lib.concatenate(list(parts), axis)
            if self.name == "numpy"
            else self._lib.cat(list(parts), axis)
        )

    def broadcast_to(self, x: Any, shape: tuple[int, ...]) -> Any:
        return self._lib.broadcast_to(x, shape)

    def swap(self, x: Any) -> Any:
        """The last two axes exchanged, as a contiguous copy (a 3-D batch of matrices)."""
        return x.transpose(1, 2).contiguous() if self.name == "torch" else x.transpose(0, 2, 1).copy()

    def swap_view(self, x: Any) -> Any:
        return x.transpose(1, 2) if self.name == "torch" else x.transpose(0, 2, 1)

    def sigmoid(self, x: Any) -> Any:
        if self.name == "torch":
            import torch

            return torch.sigmoid(x)
        from scipy.special import expit

        return expit(x)

    def max_abs(self, x: Any) -> float:
        return float(abs(x).max())

    def solve(self, a: Any, b: Any) -> Any:
        """Batched ``a^-1 b`` for ``a`` (F, m, m) and ``b`` (F, m)."""
        return self._lib.linalg.solve(a, b[:, :, None])[:, :, 0]

    def solve_large(self, a: Any, b: Any) -> Any:
        if self.name == "numpy" and a.shape[-1] > TORCH_NEWTON_MIN_DIMS:
            import torch

            return torch.linalg.solve(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        if self.name == "torch":
            import torch

            return torch.linalg.solve(a, b)
        return self.solve(a, b)

    @property
    def _lib(self) -> Any:
        if self.name == "torch":
            import torch

            return torch
        return np


NUMPY = Namespace("numpy", np.float32, np.float64)


def torch_namespace() -> Namespace:
    """The torch namespace (imports torch: kept out of module import so numpy-only installs work)."""
    import torch

    return Namespace("torch", torch.float32, torch.float64)


def namespace(backend: str) -> Namespace:
    """``"numpy"`` or ``"torch"`` -> its :class:`Namespace`."""
    if backend == "numpy":
        return NUMPY
    if backend == "torch":
        return torch_namespace()
    raise ParameterError(f"backend={backend!r}; valid: {', '.join(BACKENDS)}")


def newton_shared(
    a: Any,
    ya: Any,
    wa: Any,
    xb: Any,
    yb: Any,
    wb: Any,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    xp: Namespace = NUMPY,
) -> Any:
    """Newton's method for F L2 logistic regressions (liblinear's objective) whose rows are partly shared.

    Fold f's rows: the shared ``a`` (rows x D, labels ``ya`` = +-1) with weights ``wa[f]`` (0 = absent), and
    its own ``xb[f]`` (labels ``yb[f]``, weights ``wb[f]``). Its Hessian ``I + A' diag(h_f) A + X_f' diag(g_f)
    X_f`` takes the shared part from one product of all folds' ``h`` with the rows' outer products. Stops
    when every fold's gradient is below ``tol`` (max-abs), i.e. at the optimum to machine precision (Newton
    converges quadratically there). Arrays of ``xp``, float64; returns ``w`` (F, D), the intercept being the
    last feature. Why shared rows: LRCos's folds share all but their random negatives, so the shared part is
    one matrix (a third of the rows vecto builds per fold).
    """
    f, _, d = xb.shape
    if a.shape[0] + xb.shape[1] < d:  # fewer rows than features: the same steps in the rows' span
        return newton_dual(a, ya, wa, xb, yb, wb, max_iter=max_iter, tol=tol, xp=xp)
    # from zero: starting from the first fold's optimum took more steps (9, not 5)
    w = xp.zeros((f, d), xp.float64)
    # The Hessian only sets the step: the iteration stops where the float64 gradient vanishes, so the
    # optimum is float64's whatever the Hessian's precision. In float32 (its products and solves at twice
    # the speed) a step is off by ~1e-6 relative, which leaves Newton's step count as it is (5 on BATS).
    eye = xp.eye(d, xp.float32)
    a32 = xp.astype(a, xp.float32)
    outer = None
    if a.shape[0] * d * d <= OUTER_PRODUCT_MAX:
        outer = (a32[:, :, None] * a32[:, None, :]).reshape(a.shape[0], d * d)
    xb32 = xp.astype(xb, xp.float32)
    xbt32 = xp.swap(xb32)
    for _ in range(max_iter):
        pa = xp.sigmoid(ya * (w @ a.T))  # (F, rows): P(the row's own label)
        pb = xp.sigmoid(yb * (xb @ w[:, :, None])[:, :, 0])
        grad = w + (wa * (pa - 1.0) * ya) @ a + ((wb * (pb - 1.0) * yb)[:, None, :] @ xb)[:, 0, :]
        if xp.max_abs(grad) < tol:
            return w
        ha = xp.astype(wa * pa * (1.0 - pa), xp.float32)
        hb = xp.astype(wb * pb * (1.0 - pb), xp.float32)
        if outer is not None:
            hess = (ha @ outer).reshape(f, d, d)
        else:
            hess = (a32.T[None, :, :] * ha[:, None, :]) @ a32
        hess += xbt32 @ (xb32 * hb[:, :, None])
        hess += eye
        w -= xp.solve_large(hess, xp.astype(grad, xp.float32))
    raise ArithmeticError(f"LRCos: Newton's method did not converge in {max_iter} steps")


def newton_dual(
    a: Any,
    ya: Any,
    wa: Any,
    xb: Any,
    yb: Any,
    wb: Any,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    xp: Namespace = NUMPY,
) -> Any:
    """:func:`newton_shared`'s iterates when a fold has fewer rows (m) than features (D), in m x m systems.

    Newton's iterates from 0 stay in the span of the fold's rows, ``w = X' alpha``; with ``K = X X'`` the
    step ``(I + X' H X)^-1 X' v`` is ``X' (I + H K)^-1 v`` (push-through), so each step solves an m x m
    system instead of a D x D one (147 against 385 to 4097 at BATS's sizes), in float64 throughout. The
    stopping rule is the primal one (max-abs gradient ``X' (alpha + r)`` < ``tol``), so the optimum is the
    same. ``K`` is built once from its blocks (shared-shared, once for all folds; fold-shared; fold-fold).
    """
    f, mb, d = xb.shape
    ma = a.shape[0]
    kern = xp.empty((f, ma + mb, ma + mb), xp.float64)
    kern[:, :ma, :ma] = a @ a.T
    cross = xb @ a.T  # (F, mb, ma)
    kern[:, ma:, :ma] = cross
    kern[:, :ma, ma:] = xp.swap_view(cross)
    kern[:, ma:, ma:] = xb @ xp.swap_view(xb)
    y = xp.concat([xp.broadcast_to(ya, (f, ma)), yb], axis=1)
    sw = xp.concat([wa, wb], axis=1)
    alpha = xp.zeros((f, ma + mb), xp.float64)
    eye = xp.eye(ma + mb, xp.float64)

    def primal(coef: Any) -> Any:  # X' coef per fold, (F, D)
        return coef[:, :ma] @ a + (coef[:, None, ma:] @ xb)[:, 0, :]

    for _ in range(max_iter):
        z = (kern @ alpha[:, :, None])[:, :, 0]  # margins X w
        p = xp.sigmoid(y * z)
        r = sw * (p - 1.0) * y
        if xp.max_abs(primal(alpha + r)) < tol:
            return primal(alpha)
        h = sw * p * (1.0 - p)
        alpha -= xp.solve(eye + h[:, :, None] * kern, alpha + r)
    raise ArithmeticError(f"LRCos: Newton's method did not converge in {max_iter} steps")


def newton_padded(
    x: Any, yy: Any, sw: Any, max_iter: int = 100, tol: float = 1e-10, xp: Namespace = NUMPY
) -> Any:
    """Padded per-fold rows only (no shared rows): :func:`newton_shared` with an empty shared part."""
    f, _, d = x.shape
    return newton_shared(
        xp.zeros((0, d), xp.float64), xp.zeros((0,), xp.float64), xp.zeros((f, 0), xp.float64), x, yy, sw,
        max_iter=max_iter, tol=tol, xp=xp,
    )  # fmt: skip


def fit_logistic_folds(
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    *,
    c: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-10,
    backend: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Many small L2 logistic regressions at once, each at its exact optimum (batched Newton's method).

    ``LogisticRegression(solver="liblinear", class_weight="balanced", C=c)``'s objective (module
    docstring): balanced class weights ``n / (2 n_class)`` per fold, labels ``> 0`` positive. ``backend``:
    ``"numpy"``, ``"torch"``, or None for torch above :data:`TORCH_NEWTON_MIN_DIMS` features when it is
    installed (its batched solves), numpy below. Returns numpy ``(coefs (F, D), intercepts (F,))``.
    """
    if not xs:
        raise ParameterError("xs: give at least one fold")
    f = len(xs)
    d = xs[0].shape[1] + 1
    m = max(len(x) for x in xs)
    x = np.zeros((f, m, d))
    yy = np.zeros((f, m))
    sw = np.zeros((f, m))  # sample weight c * class weight; 0 pads the shorter folds
    for k, (xk, yk) in enumerate(zip(xs, ys, strict=True)):  # over folds: builds the padded batch
        x[k, : len(xk), :-1] = xk
        x[k, : len(xk), -1] = 1.0
        yk = np.asarray(yk)
        yy[k, : len(yk)] = np.where(yk > 0, 1.0, -1.0)
        n_pos, n_neg = int((yk > 0).sum()), int((yk <= 0).sum())
        if n_pos == 0 or n_neg == 0:
            raise ParameterError("ys: a training fold needs both positive and negative labels")
        sw[k, : len(yk)] = c * np.where(yk > 0, len(yk) / (2 * n_pos), len(yk) / (2 * n_neg))
    if backend is None:
        backend = "torch" if d > TORCH_NEWTON_MIN_DIMS and _has_torch() else "numpy"
    xp = namespace(backend)
    w = xp.to_numpy(
        newton_padded(xp.asarray(x, xp.float64), xp.asarray(yy, xp.float64), xp.asarray(sw, xp.float64),
                      max_iter, tol, xp=xp)
    )  # fmt: skip
    return w[:, :-1], w[:, -1]


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True
