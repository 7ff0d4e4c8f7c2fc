// The mask rules of SPEC section 2 in GLSL: the twin of src/mask.h (keep the two equal).
// A batch item's rule is a seq_rule; flags from attn_params.h; wl, wr the window sides.

// Batch item b's valid rows and keys (SPEC 2): query row i has position p = i - q0 and key row
// j position r = j - k0, valid for 0 <= p < ql and 0 <= r < kl; the causal and window rules
// compare r with p + off.
struct seq_rule {
    int q0, ql, k0, kl, off;
};

// Conditions 1-3 for query row i and key row j.
bool mask_visible(int i, int j, seq_rule s, uint flags, int wl, int wr)
{
    i -= s.q0;
    j -= s.k0;
    if (i < 0 || j < 0 || i >= s.ql || j >= s.kl)
        return false;
    if ((flags & ATTN_FLAG_CAUSAL) != 0u && j > i + s.off)
        return false;
    if ((flags & ATTN_FLAG_WINDOW) != 0u) {
        if (wl >= 0 && j < i + s.off - wl)
            return false;
        if (wr >= 0 && j > i + s.off + wr)
            return false;
    }
    return true;
}

// Key rows any valid query row of [i0, i1) can see, as [j0, j1) (empty: j0 >= j1); the bounds
// are monotonic in the row, so the first valid row gives the lower and the last the upper one.
void mask_key_range(int i0, int i1, seq_rule s, uint flags, int wl, int wr, out int j0,
                    out int j1)
{
    i0 = max(i0 - s.q0, 0);
    i1 = min(i1 - s.q0, s.ql);
    j0 = 0;
    j1 = s.kl;
    if ((flags & ATTN_FLAG_CAUSAL) != 0u)
        j1 = min(j1, i1 - 1 + s.off + 1);
    if ((flags & ATTN_FLAG_WINDOW) != 0u) {
        if (wl >= 0)
            j0 = max(j0, i0 + s.off - wl);
        if (wr >= 0)
            j1 = min(j1, i1 - 1 + s.off + wr + 1);
    }
    if (i0 >= i1)
        j1 = j0;
    j0 += s.k0;
    j1 += s.k0;
}

// Whether every query row of [i0, i1) sees every key row of [j0, j1) under conditions 1-3
// (then a kernel needs no per-element test there). Both ranges non-empty; the bounds are
// monotonic, so the first row decides the right edge and the last row the left one.
bool mask_block_full(int i0, int i1, int j0, int j1, seq_rule s, uint flags, int wl, int wr)
{
    i0 -= s.q0;
    i1 -= s.q0;
    j0 -= s.k0;
    j1 -= s.k0;
    if (i0 < 0 || j0 < 0 || i1 > s.ql || j1 > s.kl)
        return false;
    if ((flags & ATTN_FLAG_CAUSAL) != 0u && j1 - 1 > i0 + s.off)
        return false;
    if ((flags & ATTN_FLAG_WINDOW) != 0u) {
        if (wl >= 0 && j0 < i1 - 1 + s.off - wl)
            return false;
        if (wr >= 0 && j1 - 1 > i0 + s.off + wr)
            return false;
    }
    return true;
}

// ALiBi's distance |p + off - r| of query row i and key row j (SPEC 3).
float mask_alibi_distance(int i, int j, seq_rule s)
{
    return float(abs((i - s.q0) + s.off - (j - s.k0)));
}
