#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus_npy, corpus_problem).

Run once by hand; the outputs are checked in (without the .npy suffix, which .gitignore
hides). Needs numpy for the .npy seeds."""
import io
import os
import struct

import numpy as np
from numpy.lib import format as npf

HERE = os.path.dirname(os.path.abspath(__file__))


def npy_bytes(arr, version):
    buf = io.BytesIO()
    npf.write_array(buf, arr, version=version, allow_pickle=False)
    return buf.getvalue()


def write(folder, name, data):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    with open(os.path.join(HERE, folder, name), "wb") as f:
        f.write(data)


def npy_seeds():
    valid = {
        "v1_f4_2x3": (np.arange(6, dtype="<f4").reshape(2, 3), (1, 0)),
        "v1_f2_4": (np.linspace(-1, 1, 4).astype("<f2"), (1, 0)),
        "v1_u1_scalar": (np.array(7, dtype="|u1"), (1, 0)),
        "v1_b1_2x2x2": (np.array([[[1, 0], [0, 1]], [[1, 1], [0, 0]]], dtype="|b1"), (1, 0)),
        "v1_i4_empty": (np.zeros((0, 5), dtype="<i4"), (1, 0)),
        "v2_u4_3x1": (np.array([[1], [2], [3]], dtype="<u4"), (2, 0)),
        "v2_f4_1x1x1x2": (np.ones((1, 1, 1, 2), dtype="<f4"), (2, 0)),
    }
    for name, (arr, version) in valid.items():
        write("corpus_npy", name, npy_bytes(arr, version))
    good = npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3), (1, 0))
    write("corpus_npy", "bad_truncated_data", good[:-5])
    write("corpus_npy", "bad_extra_data", good + b"\0\0\0\0")
    write("corpus_npy", "bad_magic", b"\x93NUMPZ" + good[6:])
    write("corpus_npy", "bad_big_endian", good.replace(b"'<f4'", b"'>f4'"))
    write("corpus_npy", "bad_fortran", good.replace(b"False", b"True "))
    write("corpus_npy", "bad_header_len", good[:8] + b"\xff\xff" + good[10:])
    write("corpus_npy", "bad_huge_shape", good.replace(b"(2, 3)", b"(99999999999, 99999999)"[:6]))


def problem_seeds():
    # byte 0 = mode, then the struct (x86-64 layout of vkattn_problem), then the tail.
    def strides(b=0, h=0, s=0):
        return struct.pack("<QQQ", b, h, s)

    def problem(batch, hq, hkv, sq, skv, d, dtype=0, causal=0, align=0, window=0, wl=-1, wr=-1,
                scale=0.0, softcap=0.0, qlens=0, kvlens=0, lse=0, mb=0, mh=0, st=None,
                page=0, npages=0, pps=0, splits=0, nopack=0):
        st = st or [strides()] * 4
        head = struct.pack("<6Ii", batch, hq, hkv, sq, skv, d, dtype)
        head += b"\0" * 4  # padding before the 8-aligned strides
        body = b"".join(st)
        tail = struct.pack("<B3xiBxxxiiffBBBxII", causal, align, window, wl, wr, scale, softcap,
                           qlens, kvlens, lse, mb, mh)
        tail += struct.pack("<IIIIB7x", page, npages, pps, splits, nopack)
        return head + body + tail

    seeds = {
        "plain": (0, problem(1, 2, 0, 5, 7, 8)),
        "gqa_causal_lse": (0, problem(2, 4, 2, 9, 9, 16, causal=1, lse=1)),
        "f16_window": (0, problem(1, 1, 1, 6, 11, 4, dtype=1, window=1, wl=2, wr=0)),
        "lens_mask": (0, problem(2, 2, 1, 4, 5, 3, qlens=1, kvlens=1, mb=2, mh=1)),
        "bshd": (0, problem(1, 3, 3, 4, 4, 2, st=[struct.pack("<QQQ", 24, 2, 6)] * 4)),
        "softcap_scale": (0, problem(1, 1, 0, 3, 3, 5, scale=0.25, softcap=30.0)),
        "bad_heads": (0, problem(1, 3, 2, 1, 1, 1)),
        "bad_overlap": (0, problem(1, 2, 0, 4, 4, 4, st=[strides(), strides(), strides(),
                                                          strides(16, 0, 4)])),
        "folded_all": (0x1f, problem(7, 5, 9, 40, 50, 100, mb=2, mh=2)),
        "paged": (0, problem(2, 4, 2, 1, 40, 8, page=16, npages=6, pps=3, splits=2)),
        "paged_nopack_lens": (0, problem(2, 2, 1, 3, 20, 4, kvlens=1, page=32, npages=2,
                                         nopack=1)),
        "folded_paged": (0x3f, problem(7, 5, 9, 40, 50, 100, page=1, npages=3, pps=1)),
    }
    for name, (mode, body) in seeds.items():
        write("corpus_problem", name, bytes([mode]) + body + bytes([200, 3, 1, 4, 1, 5, 9, 2, 6]))


if __name__ == "__main__":
    npy_seeds()
    problem_seeds()
