#!/usr/bin/python3
"""tests/support/layout_graph.py: the layout measurement of issue 24 (run by
tests/integration/layout.sh; docs/architecture.md, Layout).

    layout_graph.py SRC OBJDIR

promises two checks and one summary line, and exits 0 only when both hold:

1. No cycle between files.  The "who calls whom" graph is read from the
   build's object files, not from the sources, so it is what the linker sees:
   for every object of slots/, updater/, supervisor/ and fleet/ (never tests)
   whose source still exists, `nm --defined-only -g` gives what it defines
   and `nm -u` what it uses; A -> B when A uses a symbol B defines.  Every
   strongly connected component of more than one file is a cycle (files that
   call each other, perhaps through others) and is listed.

2. include/ holds only shared headers.  A header there must be included by
   the code (not tests) of two or more areas, or by slots/ (the slot engine
   every program links).  Areas: slots, updater (libupdater, slotupd and
   slotpack), supervisor/slotd, supervisor/slotctl, supervisor/httpcheck,
   fleet.  A header included by another header of include/ is used wherever
   that one is (the closure), since it is part of that header's contract.
   A private header stays private because only its own area's objects get
   the -I flag that finds it (the Makefile), so an include that climbs out
   of its directory ("../") fails too: it would reach past that boundary.

Summary: "layout: N cycles, M shared headers, K objects" (and the failures
above it).
"""
import os
import re
import subprocess
import sys

CODE_DIRS = ("slots", "updater", "supervisor", "fleet")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def area_of(path):
    """The area of a source path relative to SRC, or None (tests, include/)."""
    parts = path.split("/")
    if parts[0] in ("slots", "updater", "fleet"):
        return parts[0]
    if parts[0] == "supervisor" and len(parts) > 2:
        return "supervisor/" + parts[1]
    return None


def nm_symbols(obj, *flags):
    """(type, name) pairs of nm's output for one object."""
    out = subprocess.run(["nm", "-P", *flags, obj], check=True,
                         capture_output=True, text=True).stdout
    pairs = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            pairs.append((fields[1], fields[0]))
    return pairs


def objects(src, objdir):
    """{source path: object path} for the code's objects with a live source:
    an object whose source was moved or removed is a leftover of an older
    build, not part of this one."""
    found = {}
    for top in CODE_DIRS:
        for root, _dirs, files in os.walk(os.path.join(objdir, top)):
            for name in files:
                if not name.endswith(".o"):
                    continue
                obj = os.path.join(root, name)
                rel = os.path.relpath(obj, objdir)[:-2] + ".c"
                if os.path.exists(os.path.join(src, rel)):
                    found[rel] = obj
    return found


def common_dirs(a, b):
    """How many leading directories two source paths share."""
    n = 0
    for x, y in zip(a.split("/")[:-1], b.split("/")[:-1]):
        if x != y:
            break
        n += 1
    return n


def call_graph(objs):
    defined = {}	# symbol -> [source]
    used = {}
    for path, obj in sorted(objs.items()):
        for kind, name in nm_symbols(obj, "--defined-only", "-g"):
            # text, data, bss, read-only data, small data, weak, common
            if kind in "TDBRGSVWC":
                defined.setdefault(name, []).append(path)
        used[path] = {name for kind, name in nm_symbols(obj, "-u")}
    edges = {path: set() for path in objs}
    for path, names in used.items():
        for name in names:
            owners = defined.get(name, [])
            if len(owners) > 1:
                # Two programs may define the same global name (each its own
                # usage(), say); the one nearest the user is the one linked.
                best = max(common_dirs(o, path) for o in owners)
                owners = [o for o in owners if common_dirs(o, path) == best]
            for owner in owners:
                if owner != path:
                    edges[path].add(owner)
    return edges


def cycles(edges):
    """Strongly connected components of more than one node (Tarjan's
    algorithm, iterative: the graph has hundreds of nodes)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def header_areas(src):
    """({include/ header: set of areas whose code includes it},
    ["path: include" for every include climbing out with ".."])."""
    headers = sorted(h for h in os.listdir(os.path.join(src, "include"))
                     if h.endswith(".h"))
    direct = {h: set() for h in headers}
    inner = {h: set() for h in headers}	# header -> include/ headers including it
    climbing = []
    for top in CODE_DIRS + ("include",):
        for root, _dirs, files in os.walk(os.path.join(src, top)):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.relpath(os.path.join(root, name), src)
                with open(os.path.join(src, path), encoding="utf-8", errors="replace") as f:
                    included = INCLUDE_RE.findall(f.read())
                area = area_of(path)
                for h in included:
                    if ".." in h.split("/"):
                        climbing.append(f"{path}: #include \"{h}\"")
                    if h not in direct:
                        continue
                    if area:
                        direct[h].add(area)
                    elif top == "include":
                        inner[h].add(name)
    areas = {}

    def resolve(h, seen):
        if h in areas:
            return areas[h]
        result = set(direct[h])
        for outer in inner[h]:
            if outer not in seen:
                result |= resolve(outer, seen | {outer})
        return result

    for h in headers:
        areas[h] = resolve(h, {h})
    return areas, climbing


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: layout_graph.py SRC OBJDIR")
    src, objdir = sys.argv[1:]
    failed = False

    objs = objects(src, objdir)
    if not objs:
        print(f"no object of {', '.join(CODE_DIRS)} under {objdir}", file=sys.stderr)
        return 2
    found = cycles(call_graph(objs))
    for component in found:
        failed = True
        print(f"cycle ({len(component)} files call each other): {' '.join(component)}")

    shared = 0
    areas_of, climbing = header_areas(src)
    for line in climbing:
        failed = True
        print(f"{line}: climbs out of its directory, past the -I boundary of private headers")
    for h, areas in sorted(areas_of.items()):
        if "slots" in areas or len(areas) >= 2:
            shared += 1
            continue
        failed = True
        if areas:
            print(f"include/{h}: private to {next(iter(areas))} (no other area's "
                  "code includes it): move it beside its code")
        else:
            print(f"include/{h}: no program's code includes it (tests only, or dead)")

    print(f"layout: {len(found)} cycles, {shared} shared headers, "
          f"{len(objs)} objects")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
