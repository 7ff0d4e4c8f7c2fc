#!/usr/bin/env python3
"""Random problems across SPEC sections 1-3, run through `vkattn run` and checked against a
float64 evaluation written here from the SPEC alone (not from the library's code).

    python3 scripts/check-random.py [--vkattn build/tools/vkattn] [--cases 40] [--seed 1]
                                    [--device cpu]

Needs numpy (Debian: python3-numpy). Prints one line per case and 'N passed, N failed'."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def reference(q, k, v, ql, kl, causal, top_left, window, scale, softcap, mask,
              qs=None, ks=None, sinks=None, alibi=None):
    """O and LSE in float64, [B, Hq, Sq, D] and [B, Hq, Sq], from SPEC sections 2 and 3
    (qs/ks: start offsets; sinks [Hq]; alibi [Hq] or [B, Hq])."""
    B, Hq, Sq, D = q.shape
    Hkv, Skv = k.shape[1], k.shape[2]
    o = np.zeros((B, Hq, Sq, D))
    lse = np.full((B, Hq, Sq), -np.inf)
    for b in range(B):
        q0 = qs[b] if qs else 0
        k0 = ks[b] if ks else 0
        i = np.arange(Sq)[:, None] - q0  # positions (SPEC 2)
        j = np.arange(Skv)[None, :] - k0
        off = 0 if top_left else kl[b] - ql[b]
        vis = (i >= 0) & (j >= 0) & (i < ql[b]) & (j < kl[b])
        if causal:
            vis &= j <= i + off
        if window is not None:
            wl, wr = window
            if wl >= 0:
                vis &= j >= i + off - wl
            if wr >= 0:
                vis &= j <= i + off + wr
        for h in range(Hq):
            hk = h // (Hq // Hkv)
            s = scale * (q[b, h].astype(np.float64) @ k[b, hk].astype(np.float64).T)
            if softcap > 0:
                s = softcap * np.tanh(s / softcap)
            if alibi is not None:
                slope = alibi[h] if alibi.ndim == 1 else alibi[b, h]
                s = s - float(slope) * np.abs(i + off - j)
            m = vis.copy()
            if mask is not None:
                m &= mask[min(b, mask.shape[0] - 1), min(h, mask.shape[1] - 1)] != 0
            s = np.where(m, s, -np.inf)
            mx = s.max(axis=1, keepdims=True)
            if sinks is not None:
                mx = np.maximum(mx, float(sinks[h]))
            seen = np.isfinite(mx[:, 0])
            p = np.where(m, np.exp(s - np.where(np.isfinite(mx), mx, 0)), 0.0)
            den = p.sum(axis=1)
            if sinks is not None:
                den = den + np.exp(float(sinks[h]) - mx[:, 0])
            o[b, h][seen] = (p @ v[b, hk].astype(np.float64))[seen] / den[seen, None]
            lse[b, h][seen] = mx[seen, 0] + np.log(den[seen])
    return o, lse


def draw(rng):
    """A random problem: shapes, dtype, layout, GQA, every mask kind, lengths, starts, scale,
    softcap, sinks and ALiBi."""
    B = int(rng.integers(1, 4))
    Hkv = int(rng.choice([1, 2, 3]))
    Hq = Hkv * int(rng.choice([1, 2, 4]))
    Sq = int(rng.choice([1, 2, 7, 33, 64, 100, 257]))
    Skv = int(rng.choice([1, 5, 31, 64, 128, 300, 513]))
    D = int(rng.choice([1, 2, 3, 8, 17, 32, 40, 64, 80, 96, 112, 128, 160, 200, 256]))
    c = dict(B=B, Hq=Hq, Hkv=Hkv, Sq=Sq, Skv=Skv, D=D,
             dtype=str(rng.choice(["f32", "f16"])), layout=str(rng.choice(["bhsd", "bshd"])),
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


def run_case(vkattn, device, c, rng, tmp):
    B, Hq, Hkv, Sq, Skv, D = (c[x] for x in ("B", "Hq", "Hkv", "Sq", "Skv", "D"))
    dt = np.float16 if c["dtype"] == "f16" else np.float32
    q = rng.standard_normal((B, Hq, Sq, D)).astype(dt)
    k = rng.standard_normal((B, Hkv, Skv, D)).astype(dt)
    v = rng.standard_normal((B, Hkv, Skv, D)).astype(dt)
    mask = None
    if c["mask"]:
        mask = rng.random((c["mask"][0], c["mask"][1], Sq, Skv)) < 0.7
    args = [vkattn, "run", "--out", f"{tmp}/o.npy", "--lse", f"{tmp}/l.npy",
            "--layout", c["layout"]]
    for name, x in (("q", q), ("k", k), ("v", v)):
        np.save(f"{tmp}/{name}.npy",
                np.ascontiguousarray(x.transpose(0, 2, 1, 3) if c["layout"] == "bshd" else x))
        args += [f"--{name}", f"{tmp}/{name}.npy"]
    if device:
        args += ["--device", device]
    if c["causal"]:
        args.append("--causal")
    if c["top_left"]:
        args += ["--align", "top-left"]
    if c["window"] is not None:
        args += ["--window", f"{c['window'][0]},{c['window'][1]}"]
    if c["q_lens"] is not None:
        args += ["--q-lens", ",".join(map(str, c["q_lens"]))]
    if c["kv_lens"] is not None:
        args += ["--kv-lens", ",".join(map(str, c["kv_lens"]))]
    if c["scale"] is not None:
        args += ["--scale", repr(c["scale"])]
    if c["softcap"] > 0:
        args += ["--softcap", repr(c["softcap"])]
    if mask is not None:
        np.save(f"{tmp}/m.npy", mask)
        args += ["--mask", f"{tmp}/m.npy"]
    for flag in ("q_start", "kv_start"):
        if c[flag] is not None:
            args += ["--" + flag.replace("_", "-"), ",".join(map(str, c[flag]))]
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
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        return False, f"exit {r.returncode}: {r.stderr.strip()}"
    o = np.load(f"{tmp}/o.npy")
    if c["layout"] == "bshd":
        o = o.transpose(0, 2, 1, 3)
    lse = np.load(f"{tmp}/l.npy")
    qs, ks = c["q_start"], c["kv_start"]
    ql = c["q_lens"] or [Sq - (qs[b] if qs else 0) for b in range(B)]
    kl = c["kv_lens"] or [Skv - (ks[b] if ks else 0) for b in range(B)]
    scale = c["scale"] if c["scale"] is not None else 1.0 / np.sqrt(D)
    o_ref, lse_ref = reference(q, k, v, ql, kl, c["causal"], c["top_left"], c["window"], scale,
                               c["softcap"], mask, qs, ks, sinks, alibi)
    if o.dtype != dt:
        return False, f"O has dtype {o.dtype}"
    if not np.all(np.isfinite(o)):
        return False, "non-finite O"
    empty = np.isneginf(lse_ref)
    if not np.array_equal(np.isneginf(lse), empty):
        return False, "LSE = -inf on the wrong rows"
    if np.any(o[empty] != 0):
        return False, "a row that sees nothing is not exactly 0"
    if sinks is not None:  # rows that see no key: O = 0 and LSE = the sink (SPEC 3)
        nokey = lse_ref == sinks.astype(np.float64)[None, :, None]
        if np.any(o[nokey] != 0):
            return False, "a row that sees no key (with sinks) is not exactly 0"
        sink_rows = np.broadcast_to(sinks[None, :, None], lse.shape)
        if np.any(np.abs(lse[nokey] - sink_rows[nokey]) > 1e-6 * (1 + np.abs(sink_rows[nokey]))):
            return False, "a row that sees no key (with sinks) has LSE other than the sink"
    err = float(np.abs(o.astype(np.float64) - o_ref).max()) if o.size else 0.0
    bound = 5e-3 if c["dtype"] == "f16" else 1e-4
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
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(a.cases):
            c = draw(rng)
            ok, why = run_case(a.vkattn, a.device, c, rng, tmp)
            desc = {x: c[x] for x in c
                    if c[x] is not None and c[x] is not False and c[x] != 0.0 and x != "magnitude"}
            print(f"{'ok  ' if ok else 'FAIL'} {n:3d} {why}  {desc}", flush=True)
            passed += ok
            failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
