#!/usr/bin/env python3
"""Helper of scripts/gpu-check.sh (stdlib only, numpy/torch where present).

  gpu_check.py compare --vkattn BIN --work DIR --info INFO.json --out COMPARE.json
                       --deadline EPOCH [--coopmat] [--bench-json OUT.json]
      Random Q/K/V for a few shapes -> `vkattn run` (O and LSE) against a float64
      reference (torch SDPA on the CPU where torch has it), `vkattn bench` of the same
      shapes, and torch SDPA on CUDA timed with CUDA events where CUDA torch exists.
  gpu_check.py report --work DIR --out OUTDIR --wall SECONDS
      Merges everything under DIR into OUTDIR/gpu-check.json and prints the table
      (also written to OUTDIR/gpu-check.txt).

Every part records its failure instead of raising: the point of the run is to bring
numbers back from a machine we hold for a few minutes, so a broken step must not cost
the others.
"""
import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
import traceback

# Bounds of SPEC (|O - O_ref| against float64 on N(0,1) inputs, exact precision).
BOUND = {"f32": 1e-4, "f16": 5e-3}
NVIDIA_VENDOR = 0x10DE


# ---------------------------------------------------------------------------- helpers
def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return default


def read_text(path, limit=20000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[:limit]
    except Exception:
        return None


def default_device(info):
    """The device the tool uses by default, from `vkattn info --json` (None: the CPU)."""
    if not info:
        return None
    devs = info.get("devices") or []
    for d in devs:
        if d.get("default"):
            return d
    idx = info.get("default")
    if isinstance(idx, int) and 0 <= idx < len(devs):
        return devs[idx]
    return None


def device_kind(info):
    """'gpu', 'cpu' (lavapipe or the CPU reference) - decides the problem sizes."""
    d = default_device(info)
    if d is None or d.get("type") == "cpu":
        return "cpu"
    return "gpu"


def case_name(r):
    """A short name of a bench row or comparison shape."""
    h = "H%d" % r["Hq"] if r["Hq"] == r["Hkv"] else "Hq%d Hkv%d" % (r["Hq"], r["Hkv"])
    s = "S%d" % r["Sq"] if r["Sq"] == r["Skv"] else "Sq%d Skv%d" % (r["Sq"], r["Skv"])
    parts = ["B%d" % r["B"], h, s, "D%d" % r["D"]]
    if r.get("causal"):
        parts.append("causal")
    if r.get("window") and list(r["window"]) != [-1, -1]:
        parts.append("win%s" % ",".join(str(x) for x in r["window"]))
    if r.get("q_lens") or r.get("kv_lens"):
        parts.append("varlen")
    if r.get("paged"):
        parts.append("paged")
    if r.get("layout") and r["layout"] != "bhsd":
        parts.append(r["layout"])
    return " ".join(parts)


def row_key(r):
    return (r["B"], r["Hq"], r["Hkv"], r["Sq"], r["Skv"], r["D"], r["dtype"], bool(r.get("causal")))


def fmt(x, spec="%.3g"):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return spec % x


# ---------------------------------------------------------------------------- compare
def shapes_for(kind):
    """(B, Hq, Hkv, Sq, Skv, D, causal). On a CPU device S is scaled down 4x so that the
    local run stays at a few minutes; on a GPU two S=4096 prefill problems are added
    (S=1024 is too short on an H200 to say much about speed)."""
    scale = 4 if kind == "cpu" else 1
    s, skv = 1024 // scale, 4096 // scale
    out = []
    for d in (64, 128):
        for causal in (False, True):
            out.append((1, 8, 8, s, s, d, causal))
    out.append((1, 32, 8, 1, skv, 128, False))           # GQA decode step
    if kind == "gpu":
        out.append((1, 8, 8, 4096, 4096, 128, False))
        out.append((1, 8, 8, 4096, 4096, 128, True))
    return out


def reference(np, torch, q, k, v, causal):
    """O (float64) by torch SDPA where torch has it (2.0+), else the same maths written
    out in torch or numpy; LSE by logsumexp of the same scores. Returns (O, LSE, how)."""
    B, Hq, Sq, D = q.shape
    Hkv, Skv = k.shape[1], k.shape[2]
    g = Hq // Hkv
    scale = 1.0 / math.sqrt(D)
    # bottom-right causal: query i sees key j <= i + (Skv - Sq); equal to torch's
    # top-left is_causal for the square problems used with causal here.
    i = np.arange(Sq)[:, None]
    j = np.arange(Skv)[None, :]
    visible = j <= i + (Skv - Sq)
    if torch is not None:
        tq = torch.from_numpy(q.astype(np.float64))
        tk = torch.from_numpy(k.astype(np.float64)).repeat_interleave(g, dim=1)
        tv = torch.from_numpy(v.astype(np.float64)).repeat_interleave(g, dim=1)
        s = torch.matmul(tq, tk.transpose(-1, -2)) * scale
        if causal:
            s = s.masked_fill(~torch.from_numpy(visible), float("-inf"))
        lse = torch.logsumexp(s, dim=-1)
        sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
        if sdpa is not None:
            o = sdpa(tq, tk, tv, is_causal=causal and Sq == Skv,
                     attn_mask=None if (not causal or Sq == Skv) else torch.from_numpy(visible))
            how = "torch %s SDPA float64 cpu" % torch.__version__
        else:
            o = torch.matmul(torch.softmax(s, dim=-1), tv)
            how = "torch %s softmax(QK^T)V float64 cpu (no SDPA before torch 2.0)" % torch.__version__
        return o.numpy(), lse.numpy(), how
    q64 = q.astype(np.float64)
    k64 = np.repeat(k.astype(np.float64), g, axis=1)
    v64 = np.repeat(v.astype(np.float64), g, axis=1)
    s = np.matmul(q64, np.swapaxes(k64, -1, -2)) * scale
    if causal:
        s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    p = np.exp(s - m)
    l = p.sum(axis=-1, keepdims=True)
    return np.matmul(p / l, v64), (m + np.log(l))[..., 0], "numpy float64 (no torch)"


def time_torch_cuda(torch, shp, dtype):
    """Median and min ms of torch SDPA on CUDA, CUDA events around each call."""
    B, Hq, Hkv, Sq, Skv, D, causal = shp
    dt = {"f16": torch.float16, "f32": torch.float32}[dtype]
    g = torch.Generator(device="cuda").manual_seed(1)
    q = torch.randn(B, Hq, Sq, D, device="cuda", dtype=dt, generator=g)
    k = torch.randn(B, Hkv, Skv, D, device="cuda", dtype=dt, generator=g)
    v = torch.randn(B, Hkv, Skv, D, device="cuda", dtype=dt, generator=g)
    F = torch.nn.functional
    kwargs = {"is_causal": causal}
    how = "sdpa"
    if Hq != Hkv:
        try:
            F.scaled_dot_product_attention(q, k, v, enable_gqa=True, **kwargs)
            kwargs["enable_gqa"] = True
            how = "sdpa enable_gqa"
        except TypeError:
            # older torch: expand K/V outside the timed region
            k = k.repeat_interleave(Hq // Hkv, dim=1)
            v = v.repeat_interleave(Hq // Hkv, dim=1)
            how = "sdpa expanded kv"
    fn = lambda: F.scaled_dot_product_attention(q, k, v, **kwargs)
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(30):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return {"ms_median": times[len(times) // 2], "ms_min": times[0], "how": how}


def run_cmd(cmd, timeout, log):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=max(1, timeout))
        out, rc = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") + "\n[timed out]", 124
    log.write("$ %s  (rc %d, %.1f s)\n%s\n" % (" ".join(cmd), rc, time.time() - t0, out[-4000:]))
    log.flush()
    return rc, out


def cmd_compare(a):
    res = {"shapes": [], "bench": {}, "torch": None, "numpy": None, "cuda": None,
           "reference": None, "notes": []}
    log = open(os.path.join(a.work, "compare.log"), "a")

    def left():
        return a.deadline - time.time()

    try:
        import numpy as np
        res["numpy"] = np.__version__
    except Exception as e:
        res["notes"].append("numpy missing: comparison skipped (%s)" % e)
        json.dump(res, open(a.out, "w"), indent=1)
        return 0
    torch = None
    try:
        import torch  # noqa: F811
        res["torch"] = torch.__version__
        if torch.cuda.is_available():
            res["cuda"] = {"device": torch.cuda.get_device_name(0),
                           "torch_cuda": torch.version.cuda}
    except Exception as e:
        res["notes"].append("torch missing: float64 reference in numpy, no CUDA timing (%s)" % e)
        torch = None

    info = load_json(a.info)
    kind = device_kind(info)
    res["device_kind"] = kind
    shapes = shapes_for(kind)
    run_help = run_cmd([a.vkattn, "run", "--help"], 20, log)[1]
    run_kernel = a.coopmat and "coopmat" in run_help   # `run --kernel coopmat`, if it exists

    # 1. accuracy through `vkattn run`
    rng = np.random.default_rng(20240601)
    for shp in shapes:
        B, Hq, Hkv, Sq, Skv, D, causal = shp
        for dtype in ("f32", "f16"):
            row = {"B": B, "Hq": Hq, "Hkv": Hkv, "Sq": Sq, "Skv": Skv, "D": D,
                   "causal": causal, "dtype": dtype}
            row["name"] = case_name(row)
            res["shapes"].append(row)
            if left() < 30:
                row["error"] = "skipped: out of time"
                continue
            try:
                npdt = np.float32 if dtype == "f32" else np.float16
                q = rng.standard_normal((B, Hq, Sq, D), dtype=np.float32).astype(npdt)
                k = rng.standard_normal((B, Hkv, Skv, D), dtype=np.float32).astype(npdt)
                v = rng.standard_normal((B, Hkv, Skv, D), dtype=np.float32).astype(npdt)
                d = os.path.join(a.work, "npy")
                os.makedirs(d, exist_ok=True)
                paths = {n: os.path.join(d, n + ".npy") for n in ("q", "k", "v", "o", "lse")}
                for n, x in (("q", q), ("k", k), ("v", v)):
                    np.save(paths[n], x)
                t0 = time.time()
                o_ref, lse_ref, how = reference(np, torch, q, k, v, causal)
                row["ref_s"] = round(time.time() - t0, 2)
                res["reference"] = how
                kernels = [("auto", [])]
                if run_kernel:
                    kernels.append(("coopmat", ["--kernel", "coopmat"]))
                for kname, extra in kernels:
                    for n in ("o", "lse"):
                        if os.path.exists(paths[n]):
                            os.remove(paths[n])
                    cmd = [a.vkattn, "run", "--q", paths["q"], "--k", paths["k"], "--v", paths["v"],
                           "--out", paths["o"], "--lse", paths["lse"]] + (["--causal"] if causal else []) + extra
                    rc, out = run_cmd(cmd, min(120, left() - 10), log)
                    sfx = "" if kname == "auto" else "_" + kname
                    if rc != 0:
                        row["error" + sfx] = "vkattn run rc %d: %s" % (rc, out.strip().splitlines()[-1:] or "")
                        continue
                    o = np.load(paths["o"]).astype(np.float64)
                    lse = np.load(paths["lse"]).astype(np.float64)
                    row["max_abs_err_o" + sfx] = float(np.max(np.abs(o - o_ref)))
                    # LSE is -inf only for rows that see no key; none here, so plain diff
                    row["max_abs_err_lse" + sfx] = float(np.max(np.abs(lse - lse_ref)))
                    row["nan" + sfx] = bool(np.isnan(o).any() or np.isnan(lse).any())
                    row["within_bound" + sfx] = (row["max_abs_err_o" + sfx] <= BOUND[dtype]
                                                 and not row["nan" + sfx])
                row["bound"] = BOUND[dtype]
            except Exception as e:
                row["error"] = "%s: %s" % (type(e).__name__, e)
                log.write(traceback.format_exc())

    # 2. vkattn bench for the same shapes: one call per causal flag (it applies to all
    #    --shape problems of a call), f32 and f16 timed in turn
    reps = ["--repeat", "3", "--warmup", "1"] if kind == "cpu" else ["--repeat", "20", "--warmup", "3"]
    kernels = [("auto", [])] + ([("coopmat", ["--kernel", "coopmat"])] if a.coopmat else [])
    all_rows = {}
    for kname, extra in kernels:
        for causal in (False, True):
            sel = [s for s in shapes if s[6] == causal]
            if not sel:
                continue
            if left() < 25:
                res["notes"].append("bench %s causal=%s skipped: out of time" % (kname, causal))
                continue
            jpath = os.path.join(a.work, "bench-shapes-%s-%s.json" % (kname, "causal" if causal else "full"))
            cmd = [a.vkattn, "bench", "--dtype", "f32,f16", "--json", jpath] + reps + extra
            for s in sel:
                cmd += ["--shape", ",".join(str(x) for x in s[:6])]
            if causal:
                cmd.append("--causal")
            rc, out = run_cmd(cmd, min(150, left() - 10), log)
            doc = load_json(jpath)
            res["bench"]["%s causal=%s" % (kname, causal)] = {"rc": rc, "rows": len((doc or {}).get("rows", []))}
            for r in (doc or {}).get("rows", []):
                all_rows.setdefault(kname, []).append(r)
    if a.bench_json:
        json.dump({"kernels": all_rows}, open(a.bench_json, "w"), indent=1)
    for row in res["shapes"]:
        for kname, rows in all_rows.items():
            for r in rows:
                if row_key(r) == row_key(row):
                    row["vkattn_ms" if kname == "auto" else "vkattn_%s_ms" % kname] = r.get("ms_median")
                    if kname == "auto":
                        row["variant"] = r.get("variant")

    # 3. torch SDPA on CUDA as the speed reference
    if torch is not None and res["cuda"]:
        for row in res["shapes"]:
            if left() < 15:
                row["torch_cuda_error"] = "skipped: out of time"
                continue
            shp = (row["B"], row["Hq"], row["Hkv"], row["Sq"], row["Skv"], row["D"], row["causal"])
            try:
                t = time_torch_cuda(torch, shp, row["dtype"])
                row["torch_cuda_ms"] = t["ms_median"]
                row["torch_cuda_ms_min"] = t["ms_min"]
                row["torch_cuda_how"] = t["how"]
                if row.get("vkattn_ms"):
                    row["vkattn_over_torch"] = row["vkattn_ms"] / t["ms_median"]
            except Exception as e:
                row["torch_cuda_error"] = "%s: %s" % (type(e).__name__, e)
    elif torch is not None:
        res["notes"].append("torch has no CUDA here: no speed reference")
    json.dump(res, open(a.out, "w"), indent=1)
    return 0


# ---------------------------------------------------------------------------- report
def parse_test(text):
    if text is None:
        return None
    m = None
    for m in re.finditer(r"^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?", text, re.M):
        pass
    out = {"passed": None, "failed": None, "skipped": None, "device": None, "not_ok": []}
    if m:
        out["passed"], out["failed"] = int(m.group(1)), int(m.group(2))
        out["skipped"] = int(m.group(3)) if m.group(3) else 0
    for line in text.splitlines():
        if line.startswith("device: ") and out["device"] is None:
            out["device"] = line[8:]
        elif line and not line.startswith("ok ") and not re.match(r"^\d+ passed", line):
            out["not_ok"].append(line[:200])
    out["not_ok"] = out["not_ok"][:30]
    return out


def slim_rows(doc):
    keep = ("B", "Hq", "Hkv", "Sq", "Skv", "D", "dtype", "layout", "causal", "window",
            "q_lens", "kv_lens", "paged", "variant", "ms_median", "ms_min", "ms_max",
            "gflops_visible", "gbps", "pct_of_peak")
    return [{k: r.get(k) for k in keep} for r in (doc or {}).get("rows", [])]


def cmd_report(a):
    w = a.work
    steps = []
    for line in (read_text(os.path.join(w, "steps.tsv")) or "").splitlines():
        f = line.split("\t")
        if len(f) >= 5:
            steps.append({"step": f[0], "status": f[1], "rc": None if f[2] == "-" else int(f[2]),
                          "seconds": float(f[3]), "note": f[4]})
    env = {}
    envdir = os.path.join(w, "env")
    for n in sorted(os.listdir(envdir)) if os.path.isdir(envdir) else []:
        env[n] = (read_text(os.path.join(envdir, n), 4000) or "").strip()
    info = load_json(os.path.join(w, "info.json"))
    dev = default_device(info)
    doc = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": a.wall,
        "host": platform.node(),
        "vulkan_driver_source": env.get("icd"),
        "nvidia_vulkan": bool(dev and dev.get("vendor_id") == NVIDIA_VENDOR),
        "device": dev,
        "info": info,
        "env": env,
        "steps": steps,
        "test": parse_test(read_text(os.path.join(w, "test.txt"))),
        "test_coopmat": parse_test(read_text(os.path.join(w, "test-coopmat.txt"))),
        "bench": {"file": "bench.json", "rows": slim_rows(load_json(os.path.join(a.out, "bench.json")))},
        "bench_coopmat": {"file": "bench-coopmat.json",
                          "rows": slim_rows(load_json(os.path.join(a.out, "bench-coopmat.json")))},
        "compare": load_json(os.path.join(w, "compare.json")),
    }
    st = {s["step"]: s for s in steps}
    for k in ("test_coopmat", "bench_coopmat"):
        s = st.get(k.replace("_", "-"))
        if s and s["status"] == "unsupported":
            doc[k] = "unsupported"
    with open(os.path.join(a.out, "gpu-check.json"), "w") as f:
        json.dump(doc, f, indent=1)

    L = []
    p = L.append
    p("vkattn GPU check  %s  host %s  wall %s s" % (doc["date"], doc["host"], a.wall))
    if dev:
        p("device: %s (%s, vendor 0x%x, driver %s, Vulkan %s)" % (
            dev.get("name"), dev.get("type"), dev.get("vendor_id", 0), dev.get("driver"),
            dev.get("api_version")))
    else:
        p("device: none from vkattn info (the CPU reference)")
    p("vulkan driver: %s" % (env.get("icd") or "-"))
    if env.get("nvidia-smi"):
        p("nvidia-smi: %s" % env["nvidia-smi"].splitlines()[0])
    p("")
    p("%-18s %-12s %4s %8s  %s" % ("step", "status", "rc", "seconds", "note"))
    for s in steps:
        p("%-18s %-12s %4s %8.1f  %s" % (s["step"], s["status"], fmt(s["rc"], "%d"), s["seconds"], s["note"]))
    for k in ("test", "test_coopmat"):
        t = doc[k]
        if isinstance(t, dict) and t.get("not_ok"):
            p("")
            p("%s: lines other than 'ok':" % k)
            for line in t["not_ok"][:10]:
                p("  " + line)

    def bench_table(title, rows, rows2=None):
        if not rows:
            return
        p("")
        p(title)
        peak = any(r.get("pct_of_peak") is not None for r in rows)
        p("%-44s %-4s %10s %10s %9s %s %-14s%s" % (
            "case", "type", "ms median", "GFLOP/s", "GB/s", " %peak" if peak else "", "variant",
            "   coopmat ms" if rows2 else ""))
        idx2 = {(case_name(r), r["dtype"]): r for r in rows2 or []}
        for r in rows:
            line = "%-44s %-4s %10.4f %10.1f %9.1f %s %-14s" % (
                case_name(r), r["dtype"], r["ms_median"] or 0, r.get("gflops_visible") or 0,
                r.get("gbps") or 0, ("%6s" % fmt(r.get("pct_of_peak"), "%.1f")) if peak else "",
                r.get("variant"))
            r2 = idx2.get((case_name(r), r["dtype"]))
            if rows2 is not None:
                line += "   %s" % (fmt(r2["ms_median"], "%.4f") if r2 else "-")
            p(line)

    cm = doc["bench_coopmat"]["rows"] if isinstance(doc["bench_coopmat"], dict) else None
    bench_table("bench --suite quick (vkattn, GPU timestamps)", doc["bench"]["rows"], cm or None)
    c = doc["compare"]
    if c:
        p("")
        p("vs float64 reference: %s" % (c.get("reference") or "-"))
        if c.get("cuda"):
            p("speed reference: torch %s SDPA on %s (CUDA events, median of 30)" % (
                c.get("torch"), c["cuda"]["device"]))
        p("%-34s %-4s %9s %9s %5s %10s %10s %10s %7s" % (
            "shape", "type", "max|dO|", "max|dLSE|", "ok", "vkattn ms", "coopmat ms", "torch ms", "vk/t"))
        for r in c.get("shapes", []):
            ok = r.get("within_bound")
            p("%-34s %-4s %9s %9s %5s %10s %10s %10s %7s%s" % (
                r["name"], r["dtype"], fmt(r.get("max_abs_err_o"), "%.2e"),
                fmt(r.get("max_abs_err_lse"), "%.2e"), "-" if ok is None else ("yes" if ok else "NO"),
                fmt(r.get("vkattn_ms"), "%.4f"), fmt(r.get("vkattn_coopmat_ms"), "%.4f"),
                fmt(r.get("torch_cuda_ms"), "%.4f"), fmt(r.get("vkattn_over_torch"), "%.2f"),
                ("  " + r["error"]) if r.get("error") else ""))
        for n in c.get("notes", []):
            p("note: " + n)
    text = "\n".join(L) + "\n"
    with open(os.path.join(a.out, "gpu-check.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--vkattn", required=True)
    c.add_argument("--work", required=True)
    c.add_argument("--info", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--deadline", type=float, required=True)
    c.add_argument("--coopmat", action="store_true")
    c.add_argument("--bench-json")
    r = sub.add_parser("report")
    r.add_argument("--work", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--wall", type=int, default=0)
    a = ap.parse_args()
    return cmd_compare(a) if a.cmd == "compare" else cmd_report(a)


if __name__ == "__main__":
    sys.exit(main())
