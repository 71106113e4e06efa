"""Pairwise interaction features."""


def with_interactions(df, cols):
    out = df.copy()
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            out[f"{a}*{b}"] = out[a] * out[b]
    return out
