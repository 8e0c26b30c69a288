#!/usr/bin/python3
"""tests/run.py - run every test stage of `make test` and print one closing line.

Stages, each for the release build (build/) and the ASan+UBSan build (build/asan/):
  unit    cmocka binaries build*/tests/test_*           (one case = one test)
  fuzz    corpus replay build*/fuzz/fuzz_X-replay fuzz/corpus/X  (one target = one test)
  system  pytest tests/system (dialog files + real peers), MXGATE_BIN pointing at the build
Closing line:  "N passed, N failed" (plus skipped when any). Exit status 0 only if nothing failed.
Environment: MXGATE_TEST_ONLY=release|asan limits the builds; MXGATE_PYTEST_ARGS adds pytest args.
"""
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
totals = {"passed": 0, "failed": 0, "skipped": 0}
failures = []


def run(cmd, env=None, timeout=1800):
    t0 = time.time()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), time.time() - t0


def stage_unit(build, env):
    for b in sorted(glob.glob(os.path.join(build, "tests", "test_*"))):
        rc, out, dt = run([b], env=env)
        m = re.search(r"\[  PASSED  \] (\d+) test", out)
        f = re.search(r"\[  FAILED  \] (\d+) test", out)
        passed = int(m.group(1)) if m else 0
        failed = int(f.group(1)) if f else 0
        if rc != 0 and failed == 0:
            failed = 1  # crashed or exited badly without a cmocka summary
        totals["passed"] += passed
        totals["failed"] += failed
        print("unit   %-6s %-28s %3d passed %2d failed  %.1fs" % (os.path.basename(build), os.path.basename(b), passed, failed, dt))
        if failed:
            failures.append((b, out[-3000:]))


def stage_fuzz(build, env):
    for b in sorted(glob.glob(os.path.join(build, "fuzz", "fuzz_*-replay"))):
        name = os.path.basename(b)[: -len("-replay")]
        corpus = os.path.join("fuzz", "corpus", name[len("fuzz_"):])
        if not os.path.isdir(corpus):
            totals["failed"] += 1
            failures.append((b, "no corpus directory %s" % corpus))
            continue
        rc, out, dt = run([b, corpus], env=env)
        ok = rc == 0 and "replayed" in out
        totals["passed" if ok else "failed"] += 1
        print("fuzz   %-6s %-28s %s  %s  %.1fs" % (os.path.basename(build), name, "ok  " if ok else "FAIL", out.strip().splitlines()[-1] if out.strip() else "", dt))
        if not ok:
            failures.append((b, out[-3000:]))


def stage_system(build, env):
    env = dict(env)
    env["MXGATE_BIN"] = os.path.join(ROOT, build, "mxgate")
    env["MXGATE_BUILD"] = "asan" if "asan" in build else "release"
    args = ["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "tests/system"]
    args += os.environ.get("MXGATE_PYTEST_ARGS", "").split()
    rc, out, dt = run(args, env=env, timeout=3600)
    tail = out.strip().splitlines()[-1] if out.strip() else ""
    counts = {k: 0 for k in ("passed", "failed", "error", "skipped")}
    for n, k in re.findall(r"(\d+) (passed|failed|error|errors|skipped)", tail):
        counts["error" if k.startswith("error") else k] += int(n)
    if rc != 0 and counts["failed"] + counts["error"] == 0:
        counts["failed"] = 1
    totals["passed"] += counts["passed"]
    totals["failed"] += counts["failed"] + counts["error"]
    totals["skipped"] += counts["skipped"]
    print("system %-6s pytest: %s  %.0fs" % (os.path.basename(build.rstrip("/")) or "build", tail, dt))
    if rc != 0:
        failures.append(("pytest " + build, out[-8000:]))


def stage_lint(env):
    """Module boundaries and the generated key table in docs/CONFIG.md."""
    for name, cmd in (("check-layout", ["tools/check-layout.sh"]),
                      ("config-doc", ["tools/gen-config-doc.sh", "--check"])):
        rc, out, dt = run(cmd, env=env)
        totals["passed" if rc == 0 else "failed"] += 1
        print("lint   %-35s %s  %s" % (name, "ok  " if rc == 0 else "FAIL", out.strip().splitlines()[-1] if out.strip() else ""))
        if rc:
            failures.append((name, out[-3000:]))


def main():
    only = os.environ.get("MXGATE_TEST_ONLY", "")
    builds = []
    if only in ("", "release"):
        builds.append("build")
    if only in ("", "asan"):
        builds.append("build/asan")
    base_env = dict(os.environ)
    base_env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1:allocator_may_return_null=0"
    base_env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    t0 = time.time()
    stage_lint(base_env)
    for b in builds:
        if not os.path.exists(os.path.join(b, "mxgate")):
            print("missing build %s (run make test)" % b)
            totals["failed"] += 1
            continue
        stage_unit(b, base_env)
        stage_fuzz(b, base_env)
        stage_system(b, base_env)
    for name, out in failures:
        print("\n==== FAILED: %s ====\n%s" % (name, out))
    line = "%d passed, %d failed" % (totals["passed"], totals["failed"])
    if totals["skipped"]:
        line += ", %d skipped" % totals["skipped"]
    print("\n%s  (%.0fs)" % (line, time.time() - t0))
    sys.exit(1 if totals["failed"] else 0)


if __name__ == "__main__":
    main()
