"""Feature helpers shared by our wine notebooks."""

import numpy as np

SEED = 3


def add_ratios(df):
    """Two ratio features a chemist suggested."""
    out = df.copy()
    out["alcohol_per_ash"] = out["alcohol"] / out["ash"]
    out["phenol_ratio"] = out["flavanoids"] / out["total_phenols"]
    return out


def summarize(scores):
    return f"mean={np.mean(scores):.6f} std={np.std(scores):.6f} n={len(scores)}"
