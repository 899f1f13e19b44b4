#!/usr/bin/env python3
"""The house rules the compiler cannot see, checked on every test run (ctest check_layers).

The include paths already make a wrong-way include fail to compile: a stage links only the stages
below it and sees only their include/ folders (core/CMakeLists.txt). This checks the rest:

  1. no #include climbs out of its folder ("../") or names an absolute path;
  2. no exported header (core/<stage>/include/) declares a private ssi_/SSI_ name;
  3. no private ssi_ symbol defined in one stage's library is used by another stage, a plugin, a
     tool or a test of another stage (from the built libraries, with nm);
  4. store_impl.h is included only in core/store/, and LMDB is called only there (the partitioner
     keeps its own small LMDB of border anchors: core/partition/partition.c);
  5. a plugin includes only the host's headers (core/host/include/), the SDK's and its own.
Rules 4 and 5 are about code; the test suites beside it (*_test.c) drive whole systems.

Usage: check_layers.py SOURCE_DIR BUILD_DIR. Exit status 1 with one line per violation.
"""
import os
import re
import subprocess
import sys

STAGES = ["host", "base", "store", "assoc", "filter", "publish", "ingest", "query", "broker",
          "replay", "partition", "simulate", "draw", "serve", "cli"]
# core/host/err.c names LMDB's error codes (mdb_strerror) in ss_strerror().
LMDB_ALLOWED = {"core/store", "core/partition/partition.c", "core/host/err.c"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def sources(root, top):
    for d, dirs, files in os.walk(os.path.join(root, top)):
        dirs[:] = [x for x in dirs if x not in ("build", "corpus")]
        for f in files:
            if f.endswith((".c", ".h")):
                p = os.path.join(d, f)
                yield os.path.relpath(p, root), open(p, encoding="utf-8", errors="replace").read()


def check_includes(root, problems):
    for rel, text in list(sources(root, "core")) + list(sources(root, "plugins")):
        for kind, name in INCLUDE.findall(text):
            if kind == '"' and (".." in name.split("/") or name.startswith("/")):
                problems.append(f"{rel}: #include \"{name}\" leaves its folder")
            if name.endswith("store_impl.h") and not rel.startswith("core/store/"):
                problems.append(f"{rel}: includes store_impl.h, private to core/store/")


def check_public_headers(root, problems):
    for stage in STAGES:
        inc = os.path.join(root, "core", stage, "include")
        if not os.path.isdir(inc):
            continue
        for f in sorted(os.listdir(inc)):
            text = open(os.path.join(inc, f), encoding="utf-8").read()
            for m in sorted(set(re.findall(r"\b(ssi_\w+|SSI_\w+)", text))):
                problems.append(f"core/{stage}/include/{f}: exports the private name {m}")


def is_test(rel):
    """A suite beside the code drives the whole system (and may write an old store's LMDB file by
    hand to test upgrades): the rules about what code may reach do not apply to it."""
    return rel.endswith("_test.c")


def check_lmdb(root, problems):
    for rel, text in sources(root, "core"):
        if is_test(rel):
            continue
        allowed = any(rel == a or rel.startswith(a + "/") for a in LMDB_ALLOWED)
        if not allowed and re.search(r"\bmdb_\w+\s*\(", text):
            problems.append(f"{rel}: calls LMDB directly (only core/store/ does)")


def check_plugins(root, problems):
    host = set(os.listdir(os.path.join(root, "core", "host", "include")))
    for rel, text in sources(root, "plugins"):
        if is_test(rel):
            continue
        own = set(os.listdir(os.path.join(root, os.path.dirname(rel))))
        for kind, name in INCLUDE.findall(text):
            if kind == '"' and name not in host and name not in own:
                problems.append(f"{rel}: includes \"{name}\": a plugin sees only core/host/include")


def symbols(path):
    out = subprocess.run(["nm", "-A", path],
                         capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[-1], parts[-2]
        if not name.startswith("ssi_"):
            continue
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return defined, undefined


def check_symbols(build, problems):
    owner = {}
    libs = {}
    for stage in STAGES:
        lib = os.path.join(build, "core", f"libss_{stage}.a")
        if os.path.exists(lib):
            libs[stage] = symbols(lib)
            for name in libs[stage][0]:
                owner[name] = stage
    if not libs:
        problems.append(f"{build}: no stage libraries found (build first)")
        return
    for stage, (_, undefined) in libs.items():
        for name in sorted(undefined):
            if owner.get(name, stage) != stage:
                problems.append(f"core/{stage}: uses {name}, private to core/{owner[name]}/")


def self_test():
    """A tree that breaks every rule once: each must be reported (a check that cannot fail is no
    check). Stage libraries are not built here, so the symbol rule reports their absence."""
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        def put(rel, text):
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            open(os.path.join(root, rel), "w").write(text)
        put("core/host/include/alert.h", "int ss_alert_x(void);\n")
        put("core/store/store_impl.h", "")
        put("core/assoc/include/assoc.h", "typedef struct ssi_leak ssi_leak;\n")
        put("core/assoc/assoc.c", '#include "../store/store_impl.h"\nint f(void){return mdb_get(0);}\n')
        put("plugins/decoder_x/x.c", '#include "alert.h"\n#include "ingest.h"\n')
        problems = []
        check_includes(root, problems)
        check_public_headers(root, problems)
        check_lmdb(root, problems)
        check_plugins(root, problems)
        check_symbols(os.path.join(root, "build"), problems)
        wanted = ["leaves its folder", "includes store_impl.h", "exports the private name ssi_leak",
                  "calls LMDB directly", 'includes "ingest.h"', "no stage libraries found"]
        missed = [w for w in wanted if not any(w in p for p in problems)]
        for w in missed:
            print(f"check_layers self-test: not reported: {w}")
        return 1 if missed else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root, build = sys.argv[1], sys.argv[2]
    problems = []
    check_includes(root, problems)
    check_public_headers(root, problems)
    check_lmdb(root, problems)
    check_plugins(root, problems)
    check_symbols(build, problems)
    for p in problems:
        print(p)
    print(f"check_layers: {len(problems)} problem(s)" if problems else "check_layers: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
