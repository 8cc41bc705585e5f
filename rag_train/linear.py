"""The two linear models every fit here uses: logistic regression and the conditional logit."""

from __future__ import annotations

import math

import numpy as np

from rag.reader.base import sigmoid


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> tuple[np.ndarray, float]:
    """(weights, bias) of an L2-regularised logistic regression, by Newton's method.

    Written out rather than imported: scikit-learn is not otherwise a dependency, and a fit
    over a few features is a few lines of linear algebra.
    """
    z = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = sigmoid(z @ w)
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_choice(questions: list[tuple[np.ndarray, np.ndarray]], l2: float = 0.1, hint: str = "") -> np.ndarray:
    """Conditional-logit weights: each question's candidates compete (softmax over them) and
    the likelihood is that of choosing a right one. Unlike a per-candidate logistic fit, it
    learns only what separates candidates *within* a question, which is the choice to make.

    Questions without a right candidate say nothing about the choice and are skipped; when
    none has one, the error carries the caller's ``hint`` at what to check. Fitted
    with scipy's L-BFGS (scipy comes with sentence-transformers; declared in pyproject).
    """
    from scipy.optimize import minimize

    data = [(x, y.astype(float)) for x, y in questions if len(x) and y.max() > 0]
    if not data:
        raise ValueError("no question of the fit collection has a right candidate: nothing to learn "
                         f"the choice from ({hint or 'is the fit collection empty?'})")

    def loss(w):
        value, grad = 0.5 * l2 * w @ w, l2 * w
        for x, y in data:
            s = x @ w
            e = np.exp(s - s.max())
            right = e * y
            value -= math.log(right.sum() / e.sum())
            grad = grad - x.T @ (right / right.sum() - e / e.sum())
        return value, grad

    return minimize(loss, np.zeros(data[0][0].shape[1]), jac=True, method="L-BFGS-B").x
