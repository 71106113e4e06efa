"""Scalers that do not mind outliers."""


def robust_z(col):
    """(x - median) / IQR."""
    q1, q3 = col.quantile([0.25, 0.75])
    return (col - col.median()) / (q3 - q1)
