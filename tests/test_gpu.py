"""The CUDA paths, for a machine with a GPU (`make test-gpu`); skipped where torch sees none (CI has none).

The exact vectors (`_exact_vectors`: cosines exactly representable) make the CUDA histogram's counts
comparable bin for bin with the brute-force numpy histogram; random vectors allow the few last-bit moves that
a different BLAS may make, as the CPU torch test does.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_allpairs import _brute, _exact_vectors

from wordembed.analyses.allpairs import all_pairs_distribution

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (no GPU seen by torch)"),
]


def test_all_pairs_counts_on_cuda_equal_numpys() -> None:
    x = _exact_vectors(150, seed=2)
    expected, upper = _brute(x, 2000)
    got = all_pairs_distribution(x, device="cuda", block_rows=40, block_cols=64)
    assert np.array_equal(got.counts, expected) and got.mean == pytest.approx(upper.mean(), abs=1e-15)
    rng = np.random.default_rng(5)
    y = (rng.standard_normal((2000, 384)) + 0.3).astype(np.float32)
    ref = all_pairs_distribution(y)
    cuda = all_pairs_distribution(y, device="cuda")
    assert cuda.counts.sum() == ref.counts.sum() == 2000 * 1999 // 2
    assert np.abs(cuda.counts - ref.counts).sum() <= 200  # TF32 is off: only last-bit rounding moves a cosine
    assert cuda.mean == pytest.approx(ref.mean, abs=1e-6)
