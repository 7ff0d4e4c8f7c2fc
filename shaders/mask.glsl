// The mask rules of SPEC section 2 in GLSL: the twin of src/mask.h (keep the two equal).
// ql, kl: valid rows/keys; off: diagonal offset; flags from attn_params.h.

bool mask_visible(int i, int j, int ql, int kl, int off, uint flags, int wl, int wr)
{
    if (i >= ql || j >= kl)
        return false;
    if ((flags & ATTN_FLAG_CAUSAL) != 0u && j > i + off)
        return false;
    if ((flags & ATTN_FLAG_WINDOW) != 0u) {
        if (wl >= 0 && j < i + off - wl)
            return false;
        if (wr >= 0 && j > i + off + wr)
            return false;
    }
    return true;
}

// Keys any row of [i0, i1) can see, as [j0, j1); the bounds are monotonic in i, so the first
// row gives the lower and the last row the upper bound. i1 must already be clamped to ql.
void mask_key_range(int i0, int i1, int kl, int off, uint flags, int wl, int wr,
                    out int j0, out int j1)
{
    j0 = 0;
    j1 = kl;
    if ((flags & ATTN_FLAG_CAUSAL) != 0u)
        j1 = min(j1, i1 - 1 + off + 1);
    if ((flags & ATTN_FLAG_WINDOW) != 0u) {
        if (wl >= 0)
            j0 = max(j0, i0 + off - wl);
        if (wr >= 0)
            j1 = min(j1, i1 - 1 + off + wr + 1);
    }
    if (i0 >= i1)
        j1 = j0;
}

// Whether every row of [i0, i1) sees every key of [j0, j1) under conditions 1-3 (then a kernel
// needs no per-element test there). Both ranges non-empty; the bounds are monotonic in i, so
// the first row decides the right edge and the last row the left one.
bool mask_block_full(int i0, int i1, int j0, int j1, int ql, int kl, int off, uint flags,
                     int wl, int wr)
{
    if (i1 > ql || j1 > kl)
        return false;
    if ((flags & ATTN_FLAG_CAUSAL) != 0u && j1 - 1 > i0 + off)
        return false;
    if ((flags & ATTN_FLAG_WINDOW) != 0u) {
        if (wl >= 0 && j0 < i1 - 1 + off - wl)
            return false;
        if (wr >= 0 && j1 - 1 > i0 + off + wr)
            return false;
    }
    return true;
}
