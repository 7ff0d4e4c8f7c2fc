#!/usr/bin/env python3
"""The files of src/ call each other without a cycle (issue #18): from the static library's
symbol table (nm), an edge a -> b for each symbol that a's object uses and b's defines; any
strongly connected group of more than one file fails, and is printed."""
import subprocess
import sys
from collections import defaultdict


def members(archive):
    defs, uses, cur = defaultdict(set), defaultdict(set), None
    out = subprocess.run(["nm", archive], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.endswith(".o:"):
            cur = line[:-3].rsplit("/", 1)[-1].replace(".c", "")
            continue
        parts = line.split()
        if cur is None or not parts:
            continue
        if len(parts) == 3 and parts[1] in "TDBR":
            defs[cur].add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            uses[cur].add(parts[1])
    return defs, uses


def cycles(edges, nodes):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def main():
    defs, uses = members(sys.argv[1])
    owner = {s: f for f, syms in defs.items() for s in syms}
    edges = defaultdict(set)
    for f, syms in uses.items():
        for s in syms:
            if s in owner and owner[s] != f:
                edges[f].add(owner[s])
    if len(defs) < 5:
        print(f"FAIL only {len(defs)} objects in {sys.argv[1]}")
        return 1
    found = cycles(edges, set(defs))
    for group in found:
        print("FAIL a cycle among src/ files:", ", ".join(group))
        for f in group:
            print(f"  {f} -> {', '.join(sorted(edges[f] & set(group)))}")
    if not found:
        print(f"ok   {len(defs)} files of src/, no cycle among their calls")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
