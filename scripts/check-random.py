#!/usr/bin/env python3
"""Random problems across SPEC sections 1-3 (about one in four a packed variable-length batch,
SPEC 2.1; about one in three with V's head size Dv other than D, some of them with D in 257..576
such as DeepSeek's MLA, D = 576 and Dv = 512; about one in five in bf16), run through `vkattn run`
and checked against a float64 evaluation written here from the SPEC alone (not from the library's
code).

bf16 (SPEC 1, 3, 4): inputs drawn from N(0,1) and rounded to bf16 here (round to nearest even),
saved as their bits in `<u2` or `<i2` .npy files (the same for Q, K and V) with `--dtype bf16`; O
comes back in the same dtype string and is widened to f32 from its bits; the float64 evaluation
takes the rounded inputs and the bound is 2e-2. bf16 problems stay small (Sq, Skv <= 130,
B*Hq <= 8): on lavapipe bf16 runs a slow kernel form.

No case uses --page-table or --splits: paged K/V and key splits are covered by the harness
(`vkattn test`), bf16 and the wide head sizes with them too.

    python3 scripts/check-random.py [--vkattn build/tools/vkattn] [--cases 40] [--seed 1]
                                    [--device cpu]

Needs numpy (Debian: python3-numpy). Prints one line per case and 'N passed, N failed'."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def visible(i, j, ql, kl, off, causal, window):
    """SPEC 2's rules 1-3 for query positions i (a column) and key positions j (a row)."""
    vis = (i >= 0) & (j >= 0) & (i < ql) & (j < kl)
    if causal:
        vis &= j <= i + off
    if window is not None:
        wl, wr = window
        if wl >= 0:
            vis &= j >= i + off - wl
        if wr >= 0:
            vis &= j <= i + off + wr
    return vis


def scores(qh, kh, scale, softcap, slope, dist):
    """SPEC 3's scores of query rows qh against key rows kh in float64: scaled, softcapped, and
    less ALiBi's slope * dist (dist = |p + off - r|) with a slope."""
    s = scale * (qh.astype(np.float64) @ kh.astype(np.float64).T)
    if softcap > 0:
        s = softcap * np.tanh(s / softcap)
    if slope is not None:
        s = s - float(slope) * dist
    return s


def reference(q, k, v, ql, kl, causal, top_left, window, scale, softcap, mask,
              qs=None, ks=None, sinks=None, alibi=None):
    """O and LSE in float64, [B, Hq, Sq, Dv] and [B, Hq, Sq], from SPEC sections 2 and 3, with
    Dv V's own last dimension (qs/ks: start offsets; sinks [Hq]; alibi [Hq] or [B, Hq])."""
    B, Hq, Sq, _ = q.shape
    Hkv, Skv = k.shape[1], k.shape[2]
    o = np.zeros((B, Hq, Sq, v.shape[3]))
    lse = np.full((B, Hq, Sq), -np.inf)
    for b in range(B):
        q0 = qs[b] if qs else 0
        k0 = ks[b] if ks else 0
        i = np.arange(Sq)[:, None] - q0  # positions (SPEC 2)
        j = np.arange(Skv)[None, :] - k0
        off = 0 if top_left else kl[b] - ql[b]
        vis = visible(i, j, ql[b], kl[b], off, causal, window)
        for h in range(Hq):
            hk = h // (Hq // Hkv)
            slope = None if alibi is None else alibi[h] if alibi.ndim == 1 else alibi[b, h]
            s = scores(q[b, h], k[b, hk], scale, softcap, slope, np.abs(i + off - j))
            m = vis.copy()
            if mask is not None:
                m &= mask[min(b, mask.shape[0] - 1), min(h, mask.shape[1] - 1)] != 0
            o[b, h], lse[b, h] = softmax_rows(s, m, v[b, hk], None if sinks is None else sinks[h])
    return o, lse


def softmax_rows(s, m, v, sink):
    """O [rows, Dv] and LSE [rows] of scores s where m is True (SPEC 3): the sink joins the
    denominator; a row with nothing in its softmax gets O = 0 and LSE = -inf."""
    o = np.zeros((s.shape[0], v.shape[1]))
    lse = np.full(s.shape[0], -np.inf)
    s = np.where(m, s, -np.inf)
    mx = s.max(axis=1, keepdims=True) if s.shape[1] else np.full((s.shape[0], 1), -np.inf)
    if sink is not None:
        mx = np.maximum(mx, float(sink))
    seen = np.isfinite(mx[:, 0])
    p = np.where(m, np.exp(s - np.where(np.isfinite(mx), mx, 0)), 0.0)
    den = p.sum(axis=1)
    if sink is not None:
        den = den + np.exp(float(sink) - mx[:, 0])
    o[seen] = (p @ v.astype(np.float64))[seen] / den[seen, None]
    lse[seen] = mx[seen, 0] + np.log(den[seen])
    return o, lse


def reference_packed(q, k, v, cq, ck, causal, top_left, window, scale, softcap, sinks=None,
                     alibi=None):
    """O [Tq, Hq, Dv] and LSE [Hq, Tq] in float64 of a packed batch (SPEC 2.1): item b owns query
    rows cq[b]..cq[b+1]-1 and key rows ck[b]..ck[b+1]-1, ql and kl are those counts, and
    section 2's rules (and ALiBi's distance) read positions counted from the item's first row."""
    Tq, Hq, _ = q.shape
    Hkv = k.shape[1]
    o = np.zeros((Tq, Hq, v.shape[2]))
    lse = np.full((Hq, Tq), -np.inf)
    for b in range(len(cq) - 1):
        q0, q1, k0, k1 = cq[b], cq[b + 1], ck[b], ck[b + 1]
        ql, kl = q1 - q0, k1 - k0
        i = np.arange(q0, q1)[:, None] - q0  # positions within the item (SPEC 2.1)
        j = np.arange(k0, k1)[None, :] - k0
        off = 0 if top_left else kl - ql
        vis = visible(i, j, ql, kl, off, causal, window)
        for h in range(Hq):
            hk = h // (Hq // Hkv)
            slope = None if alibi is None else alibi[h] if alibi.ndim == 1 else alibi[b, h]
            s = scores(q[q0:q1, h], k[k0:k1, hk], scale, softcap, slope, np.abs(i + off - j))
            o[q0:q1, h], lse[h, q0:q1] = softmax_rows(
                s, vis, v[k0:k1, hk], None if sinks is None else sinks[h])
    return o, lse


HEAD_DIMS = [1, 2, 3, 8, 17, 32, 40, 64, 80, 96, 112, 128, 160, 200, 256]


def draw_head_dims(rng):
    """(D, Dv): two in three Dv = D <= 256; else Dv != D with both up to 256 (192/128 and the
    like, either one larger), or wide heads: D in 257..576 (MLA's 576/512 most often) or Dv in
    257..512 (now and then Dv = D > 256), with Dv <= 512 always (SPEC 1)."""
    u = rng.random()
    if u < 0.65:
        D = int(rng.choice(HEAD_DIMS))
        return D, D
    if u < 0.85:
        D, Dv = (int(x) for x in rng.choice(HEAD_DIMS + [192, 48, 5], 2, replace=False))
        return D, Dv
    if rng.random() < 0.4:
        return 576, 512
    D = int(rng.choice([257, 320, 384, 448, 512, 513, 576, int(rng.integers(257, 577))]))
    if rng.random() < 0.25:  # a narrow Q/K with a wide V instead
        D = int(rng.choice([16, 64, 128, 256]))
    Dv = int(rng.choice([1, 64, 128, 256, 300, 512, int(rng.integers(1, 513))]))
    if Dv == D:
        Dv = 512 if D != 512 else 128
    if D > 256 and D <= 512 and rng.random() < 0.2:  # a wide head with Dv = D
        Dv = D
    return D, Dv


def wide(D, Dv):
    """Head sizes that make the work large: keep the sequences short for them."""
    return D > 256 or Dv > 256


def draw_dtype(rng, bf16):
    """The case's dtype: bf16 when drawn so (one in five), else f32 or f16."""
    return "bf16" if bf16 else str(rng.choice(["f32", "f16"]))


def draw(rng):
    """A random problem: shapes, head sizes (Dv != D now and then), dtype (one in five bf16, kept
    small), layout, GQA, every mask kind, lengths, starts, scale, softcap, sinks and ALiBi; one in
    four a packed batch (draw_packed)."""
    bf16 = bool(rng.random() < 0.2)
    if rng.random() < 0.25:
        return draw_packed(rng, bf16)
    D, Dv = draw_head_dims(rng)
    big = wide(D, Dv)
    B = int(rng.integers(1, 3 if big else 4))
    Hkv = int(rng.choice([1, 2] if big else [1, 2, 3]))
    Hq = Hkv * int(rng.choice([1, 2] if big else [1, 2, 4]))
    Sq = int(rng.choice([1, 2, 7, 33] if big else [1, 2, 7, 33, 64, 100, 257]))
    Skv = int(rng.choice([1, 5, 31, 64, 130] if big else [1, 5, 31, 64, 128, 300, 513]))
    if bf16:  # the slow kernel form on lavapipe: Sq, Skv <= 130 and B * Hq <= 8
        Sq, Skv = min(Sq, int(rng.choice([64, 100, 130]))), min(Skv, 130)
        Hq = Hq if Hq <= 8 else 2 * Hkv  # 12 (Hkv 3, groups of 4): groups of 2
        B = min(B, 8 // Hq)
    c = dict(B=B, Hq=Hq, Hkv=Hkv, Sq=Sq, Skv=Skv, D=D, Dv=Dv,
             dtype=draw_dtype(rng, bf16), layout=str(rng.choice(["bhsd", "bshd"])),
             causal=bool(rng.random() < 0.5), top_left=bool(rng.random() < 0.3),
             window=None, q_lens=None, kv_lens=None, scale=None, softcap=0.0, mask=None,
             magnitude=1.0, q_start=None, kv_start=None, sinks=False, alibi=None)
    if rng.random() < 0.35:
        c["window"] = (int(rng.choice([-1, 0, 3, 16, 100])), int(rng.choice([-1, 0, 5, 40])))
    if rng.random() < 0.4:
        c["q_lens"] = [int(x) for x in rng.integers(0, Sq + 1, B)]
    if rng.random() < 0.4:
        c["kv_lens"] = [int(x) for x in rng.integers(0, Skv + 1, B)]
    if rng.random() < 0.25:
        c["scale"] = float(rng.uniform(0.05, 1.0))
    if rng.random() < 0.2:
        c["softcap"] = float(rng.uniform(1.0, 30.0))
    if rng.random() < 0.25:
        c["mask"] = (int(rng.choice([1, B])), int(rng.choice([1, Hq])))
    # Start offsets (left padding) that fit beside the lengths; sinks; ALiBi slopes.
    if rng.random() < 0.3:
        ln = c["q_lens"] or [0] * B
        c["q_start"] = [int(rng.integers(0, Sq - ln[b] + 1)) for b in range(B)]
    if rng.random() < 0.3:
        ln = c["kv_lens"] or [0] * B
        c["kv_start"] = [int(rng.integers(0, Skv - ln[b] + 1)) for b in range(B)]
    c["sinks"] = bool(rng.random() < 0.25)
    if rng.random() < 0.25:
        c["alibi"] = str(rng.choice(["heads", "batch_heads"]))
    return c


def draw_packed(rng, bf16=False):
    """A packed variable-length batch (SPEC 2.1): B items of random query and key counts (empty
    and single-token items included), end to end on one token axis, with causal, alignment,
    window, scale, softcap, sinks and ALiBi as in draw(); never lengths, starts, a custom mask or
    a layout, which packing excludes. bf16 keeps it small: Tq, Tk <= 130 and B * Hq <= 8."""
    D, Dv = draw_head_dims(rng)
    big = wide(D, Dv) or bf16
    B = int(rng.integers(1, 4 if big else 6))
    Hkv = int(rng.choice([1, 2] if big else [1, 2, 3]))
    Hq = Hkv * int(rng.choice([1, 2] if big else [1, 2, 4]))
    if bf16:  # items of up to 17 queries and 64 keys: Tq, Tk <= 128
        B = min(B, 2, 8 // Hq)
    qn = [int(rng.choice([0, 1, 1, 2, 5, 7, 17] if big else
                         [0, 1, 1, 2, 5, 7, 17, 33, 64, 100, 130])) for _ in range(B)]
    kn = [int(rng.choice([0, 1, 1, 3, 5, 31, 64] if big else
                         [0, 1, 1, 3, 5, 31, 64, 129, 200])) for _ in range(B)]
    if rng.random() < 0.2:  # decoding: one query per item against its cache
        qn = [min(x, 1) for x in qn]
    # The token counts Tq and Tk are at least 1 (SPEC 1: Sq, Skv >= 1); items may still be empty.
    if sum(qn) == 0:
        qn[int(rng.integers(0, B))] = int(rng.choice([1, 3]))
    if sum(kn) == 0:
        kn[int(rng.integers(0, B))] = int(rng.choice([1, 4]))
    c = dict(packed=True, B=B, Hq=Hq, Hkv=Hkv, D=D, Dv=Dv,
             cu_seqlens_q=[int(x) for x in np.concatenate([[0], np.cumsum(qn)])],
             cu_seqlens_kv=[int(x) for x in np.concatenate([[0], np.cumsum(kn)])],
             dtype=draw_dtype(rng, bf16),
             causal=bool(rng.random() < 0.5), top_left=bool(rng.random() < 0.3),
             window=None, scale=None, softcap=0.0, magnitude=1.0, sinks=False, alibi=None)
    if rng.random() < 0.35:
        c["window"] = (int(rng.choice([-1, 0, 3, 16, 100])), int(rng.choice([-1, 0, 5, 40])))
    if rng.random() < 0.25:
        c["scale"] = float(rng.uniform(0.05, 1.0))
    if rng.random() < 0.2:
        c["softcap"] = float(rng.uniform(1.0, 30.0))
    c["sinks"] = bool(rng.random() < 0.25)
    if rng.random() < 0.25:
        c["alibi"] = str(rng.choice(["heads", "batch_heads"]))
    return c


def bf16_bits(x):
    """x rounded to bf16 (round to nearest even, SPEC 1): the top 16 bits as uint16."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_widen(bits):
    """f32 values of bf16 bits (uint16 or int16): exact."""
    return (np.asarray(bits).view(np.uint16).astype(np.uint32) << 16).view(np.float32)


def draw_inputs(c, rng, shapes):
    """Q, K, V from N(0,1) in the case's dtype: (values the float64 evaluation takes, arrays to
    save, the dtype O must come back in). bf16: the values are the rounded inputs, widened, and
    the arrays their bits as '<u2' or '<i2' (the case's 'bits', one for all three)."""
    if c["dtype"] != "bf16":
        dt = np.float16 if c["dtype"] == "f16" else np.float32
        xs = [rng.standard_normal(s).astype(dt) for s in shapes]
        return xs, xs, np.dtype(dt)
    bits = [bf16_bits(rng.standard_normal(s)) for s in shapes]
    return [bf16_widen(b) for b in bits], [b.view(c["bits"]) for b in bits], np.dtype(c["bits"])


def read_out(c, path, want):
    """O from its file as f32 or f16 values (bf16: widened from its bits), after checking that
    it came in the dtype string it must (Q's)."""
    o = np.load(path)
    if o.dtype != want:
        raise ValueError(f"O has dtype {o.dtype.str}, expected {want.str}")
    return bf16_widen(o) if c["dtype"] == "bf16" else o


def logit_args(c, rng, tmp, B, Hq):
    """--sinks / --alibi files for the case, with the arrays drawn (or None)."""
    args = []
    sinks = alibi = None
    if c["sinks"]:
        sinks = (2.0 * rng.standard_normal(Hq)).astype(np.float32)
        np.save(f"{tmp}/sinks.npy", sinks)
        args += ["--sinks", f"{tmp}/sinks.npy"]
    if c["alibi"]:
        shape = (Hq,) if c["alibi"] == "heads" else (B, Hq)
        alibi = rng.uniform(0.0, 0.5, shape).astype(np.float32)
        np.save(f"{tmp}/alibi.npy", alibi)
        args += ["--alibi", f"{tmp}/alibi.npy"]
    return args, sinks, alibi


def mask_args(c):
    """--causal, --align, --window, --scale and --softcap of the case."""
    args = []
    if c["causal"]:
        args.append("--causal")
    if c["top_left"]:
        args += ["--align", "top-left"]
    if c["window"] is not None:
        args += ["--window", f"{c['window'][0]},{c['window'][1]}"]
    if c["scale"] is not None:
        args += ["--scale", repr(c["scale"])]
    if c["softcap"] > 0:
        args += ["--softcap", repr(c["softcap"])]
    return args


def run_case(vkattn, device, c, rng, tmp):
    if c.get("packed"):
        return run_packed(vkattn, device, c, rng, tmp)
    B, Hq, Hkv, Sq, Skv, D, Dv = (c[x] for x in ("B", "Hq", "Hkv", "Sq", "Skv", "D", "Dv"))
    (q, k, v), saved, o_dt = draw_inputs(
        c, rng, [(B, Hq, Sq, D), (B, Hkv, Skv, D), (B, Hkv, Skv, Dv)])
    mask = None
    if c["mask"]:
        mask = rng.random((c["mask"][0], c["mask"][1], Sq, Skv)) < 0.7
    args = [vkattn, "run", "--out", f"{tmp}/o.npy", "--lse", f"{tmp}/l.npy",
            "--layout", c["layout"]]
    for name, x in zip("qkv", saved):
        np.save(f"{tmp}/{name}.npy",
                np.ascontiguousarray(x.transpose(0, 2, 1, 3) if c["layout"] == "bshd" else x))
        args += [f"--{name}", f"{tmp}/{name}.npy"]
    if c["dtype"] == "bf16":
        args += ["--dtype", "bf16"]
    if device:
        args += ["--device", device]
    args += mask_args(c)
    if c["q_lens"] is not None:
        args += ["--q-lens", ",".join(map(str, c["q_lens"]))]
    if c["kv_lens"] is not None:
        args += ["--kv-lens", ",".join(map(str, c["kv_lens"]))]
    if mask is not None:
        np.save(f"{tmp}/m.npy", mask)
        args += ["--mask", f"{tmp}/m.npy"]
    for flag in ("q_start", "kv_start"):
        if c[flag] is not None:
            args += ["--" + flag.replace("_", "-"), ",".join(map(str, c[flag]))]
    more, sinks, alibi = logit_args(c, rng, tmp, B, Hq)
    r = subprocess.run(args + more, capture_output=True, text=True)
    if r.returncode != 0:
        return False, f"exit {r.returncode}: {r.stderr.strip()}"
    o = read_out(c, f"{tmp}/o.npy", o_dt)
    if c["layout"] == "bshd":
        o = o.transpose(0, 2, 1, 3)
    if o.shape != (B, Hq, Sq, Dv):
        return False, f"O has shape {o.shape} (as BHSD), expected {(B, Hq, Sq, Dv)}"
    lse = np.load(f"{tmp}/l.npy")
    if lse.shape != (B, Hq, Sq):
        return False, f"LSE has shape {lse.shape}, expected {(B, Hq, Sq)}"
    qs, ks = c["q_start"], c["kv_start"]
    ql = c["q_lens"] or [Sq - (qs[b] if qs else 0) for b in range(B)]
    kl = c["kv_lens"] or [Skv - (ks[b] if ks else 0) for b in range(B)]
    scale = c["scale"] if c["scale"] is not None else 1.0 / np.sqrt(D)
    o_ref, lse_ref = reference(q, k, v, ql, kl, c["causal"], c["top_left"], c["window"], scale,
                               c["softcap"], mask, qs, ks, sinks, alibi)
    sink_rows = None if sinks is None else np.broadcast_to(sinks[None, :, None], lse_ref.shape)
    return compare(o, lse, o_ref, lse_ref, sink_rows, c["dtype"])


def run_packed(vkattn, device, c, rng, tmp):
    """A packed batch (SPEC 2.1): Q [Tq, Hq, D], K [Tk, Hkv, D], V [Tk, Hkv, Dv], O [Tq, Hq, Dv]
    and LSE [Hq, Tq] through --cu-seqlens-q / --cu-seqlens-kv."""
    B, Hq, Hkv, D, Dv = (c[x] for x in ("B", "Hq", "Hkv", "D", "Dv"))
    cq, ck = c["cu_seqlens_q"], c["cu_seqlens_kv"]
    Tq, Tk = cq[-1], ck[-1]
    (q, k, v), saved, o_dt = draw_inputs(c, rng, [(Tq, Hq, D), (Tk, Hkv, D), (Tk, Hkv, Dv)])
    args = [vkattn, "run", "--out", f"{tmp}/o.npy", "--lse", f"{tmp}/l.npy",
            "--cu-seqlens-q", ",".join(map(str, cq)), "--cu-seqlens-kv", ",".join(map(str, ck))]
    for name, x in zip("qkv", saved):
        np.save(f"{tmp}/{name}.npy", x)
        args += [f"--{name}", f"{tmp}/{name}.npy"]
    if c["dtype"] == "bf16":
        args += ["--dtype", "bf16"]
    if device:
        args += ["--device", device]
    args += mask_args(c)
    more, sinks, alibi = logit_args(c, rng, tmp, B, Hq)
    r = subprocess.run(args + more, capture_output=True, text=True)
    if r.returncode != 0:
        return False, f"exit {r.returncode}: {r.stderr.strip()}"
    o = read_out(c, f"{tmp}/o.npy", o_dt)
    lse = np.load(f"{tmp}/l.npy")
    if o.shape != (Tq, Hq, Dv):
        return False, f"O has shape {o.shape}, expected {(Tq, Hq, Dv)}"
    if lse.shape != (Hq, Tq):
        return False, f"LSE has shape {lse.shape}, expected {(Hq, Tq)}"
    scale = c["scale"] if c["scale"] is not None else 1.0 / np.sqrt(D)
    o_ref, lse_ref = reference_packed(q, k, v, cq, ck, c["causal"], c["top_left"], c["window"],
                                      scale, c["softcap"], sinks, alibi)
    sink_rows = None if sinks is None else np.broadcast_to(sinks[:, None], lse_ref.shape)
    return compare(o, lse, o_ref, lse_ref, sink_rows, c["dtype"])


def compare(o, lse, o_ref, lse_ref, sink_rows, dtype):
    """SPEC 3's checks of O (its dtype already checked by read_out; bf16 widened) and LSE against
    the float64 values; sink_rows is the sink of each LSE entry's head (or None without sinks)."""
    if lse.dtype != np.float32:
        return False, f"LSE has dtype {lse.dtype.str}"
    if not np.all(np.isfinite(o)):
        return False, "non-finite O"
    empty = np.isneginf(lse_ref)
    if not np.array_equal(np.isneginf(lse), empty):
        return False, "LSE = -inf on the wrong rows"
    # O's rows line up with LSE's entries: O [..., rows, Dv] against LSE [..., rows] (unpacked),
    # O [Tq, Hq, Dv] against LSE [Hq, Tq] (packed).
    o_rows = o if o.ndim == 4 else o.transpose(1, 0, 2)
    if np.any(o_rows[empty] != 0):
        return False, "a row that sees nothing is not exactly 0"
    if sink_rows is not None:  # rows that see no key: O = 0 and LSE = the sink (SPEC 3)
        # LSE_ref == sink alone also marks rows whose keys' weights vanish beside the sink in
        # float64 (ALiBi over long distances): those see keys, and their O_ref is not exactly 0.
        o_ref_rows = o_ref if o_ref.ndim == 4 else o_ref.transpose(1, 0, 2)
        nokey = (lse_ref == sink_rows.astype(np.float64)) & np.all(o_ref_rows == 0, axis=-1)
        if np.any(o_rows[nokey] != 0):
            return False, "a row that sees no key (with sinks) is not exactly 0"
        if np.any(np.abs(lse[nokey] - sink_rows[nokey]) > 1e-6 * (1 + np.abs(sink_rows[nokey]))):
            return False, "a row that sees no key (with sinks) has LSE other than the sink"
    err = float(np.abs(o.astype(np.float64) - o_ref).max()) if o.size else 0.0
    bound = {"f16": 5e-3, "bf16": 2e-2}.get(dtype, 1e-4)
    lerr = float(np.abs(lse[~empty] - lse_ref[~empty]).max()) if (~empty).any() else 0.0
    ok = err <= bound and lerr <= 1e-3
    return ok, f"max|O-ref| {err:.2e} (bound {bound:.0e}), max|LSE-ref| {lerr:.2e}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vkattn", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                     "tools", "vkattn"))
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default=None)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    passed = failed = packed = other_dv = wide_d = bf16 = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(a.cases):
            c = draw(rng)
            if c["dtype"] == "bf16":  # the bits' dtype string: both kinds, one per case
                c["bits"] = str(rng.choice(["<u2", "<i2"]))
            try:
                ok, why = run_case(a.vkattn, a.device, c, rng, tmp)
            except Exception as e:  # a broken output file or shape: this case fails, not the run
                ok, why = False, f"{type(e).__name__}: {e}"
            desc = {x: c[x] for x in c
                    if c[x] is not None and c[x] is not False and c[x] != 0.0 and x != "magnitude"}
            print(f"{'ok  ' if ok else 'FAIL'} {n:3d} {why}  {desc}", flush=True)
            passed += ok
            failed += not ok
            packed += bool(c.get("packed"))
            other_dv += c["Dv"] != c["D"]
            wide_d += c["D"] > 256
            bf16 += c["dtype"] == "bf16"
    print(f"({packed} of the {a.cases} cases packed batches, {other_dv} with Dv != D, "
          f"{wide_d} with D > 256, {bf16} in bf16)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
