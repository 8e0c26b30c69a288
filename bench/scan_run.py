#!/usr/bin/python3
"""bench/scan_run.py - run `mxgate scan --json` over a message list and account for it
(stdlib only; used by bench/scan-bench.sh and bench/sa-agreement.sh).

  scan_run.py list CORPUS_DIR OUTFILE
      absolute paths of the corpus' messages, one a line: the paths in CORPUS_DIR/MANIFEST.tsv
      (first column, after the header line) if there is one, else every non-empty file, sorted.
  scan_run.py run MXGATE CONF LISTFILE BASE [--batch N] [--max-seconds S] [--daemon-pid PID]
      runs `MXGATE scan -c CONF --json FILE...` with all files on one command line (or N files
      per process, one process after another); writes BASE.jsonl (one JSON line a message),
      BASE.err (stderr) and BASE.run.json: messages, wall_s, user_s and sys_s of the mxgate
      processes (getrusage of the children), exit codes, daemon_cpu_s (CPU the daemon's process
      tree used meanwhile, with --daemon-pid, through ../shared/bench/scanping.py), crashed
      ([file, -signal]: a process killed by a signal is restarted after the message it died
      on) and killed_after_max_seconds (the run as a whole is bounded by S, default 900).
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCANPING = os.environ.get("SHARED_BENCH", os.path.join(HERE, "..", "..", "shared", "bench")) + "/scanping.py"


def make_list(corpus, outfile):
    corpus = os.path.abspath(corpus)
    man = os.path.join(corpus, "MANIFEST.tsv")
    if os.path.exists(man):
        with open(man) as f:
            files = [os.path.join(corpus, line.split("\t")[0]) for line in list(f)[1:] if line.strip()]
    else:
        files = sorted(os.path.join(d, n) for d, _, ns in os.walk(corpus) for n in ns
                       if os.path.getsize(os.path.join(d, n)) > 0)
    with open(outfile, "w") as f:
        f.writelines(p + "\n" for p in files)
    print(len(files))


def daemon_cpu(pid):
    if not pid:
        return 0.0
    r = subprocess.run([sys.executable, SCANPING, "cpu", pid], capture_output=True, text=True, check=True)
    return float(r.stdout.split()[0])


def reported(path, pos):
    """messages reported in the JSON output after byte offset pos"""
    with open(path) as f:
        f.seek(pos)
        return {json.loads(line).get("message") for line in f if line.startswith("{")}


def run(mx, conf, listf, base, batch=0, maxs=900.0, dpid=""):
    with open(listf) as f:
        files = [line.rstrip("\n") for line in f if line.strip()]
    batch = batch or len(files)
    d0 = daemon_cpu(dpid)
    user = syst = 0.0
    rcs, hung, crashed = [], [], []
    with open(base + ".jsonl", "w") as out, open(base + ".err", "w") as err:
        t0 = time.monotonic()
        deadline = t0 + maxs
        i = 0
        while i < len(files):
            part = files[i:i + batch]
            out.flush()
            pos = out.tell()
            p = subprocess.Popen([mx, "scan", "-c", conf, "--json"] + part, stdout=out, stderr=err)
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    p.kill()
                    pid, status, ru = os.wait4(p.pid, 0)
                    break
                time.sleep(0.005)
            user += ru.ru_utime
            syst += ru.ru_stime
            rc = os.waitstatus_to_exitcode(status)
            rcs.append(rc)
            out.seek(0, 2)
            if rc < 0:
                # killed: blame the message after the last one reported, go on after it
                seen = reported(base + ".jsonl", pos)
                last = max([k for k, name in enumerate(part) if name in seen], default=-1)
                bad = part[min(last + 1, len(part) - 1)]
                if time.monotonic() > deadline:
                    hung.append(bad)
                    break
                crashed.append([bad, rc])
                i += last + 2
                continue
            i += batch
        wall = time.monotonic() - t0
    res = dict(messages=len(files), wall_s=wall, user_s=user, sys_s=syst, processes=len(rcs),
               exit_codes=sorted(set(rcs)), crashed=crashed, killed_after_max_seconds=hung,
               daemon_cpu_s=daemon_cpu(dpid) - d0)
    with open(base + ".run.json", "w") as f:
        json.dump(res, f)
    return res


def main(argv):
    if len(argv) == 4 and argv[1] == "list":
        make_list(argv[2], argv[3])
        return 0
    if len(argv) >= 6 and argv[1] == "run":
        opts = dict(batch=0, maxs=900.0, dpid="")
        rest = argv[6:]
        while rest:
            k, v, rest = rest[0], rest[1], rest[2:]
            if k == "--batch":
                opts["batch"] = int(v)
            elif k == "--max-seconds":
                opts["maxs"] = float(v)
            elif k == "--daemon-pid":
                opts["dpid"] = v
            else:
                sys.exit(f"scan_run.py: unknown option {k}")
        run(argv[2], argv[3], argv[4], argv[5], **opts)
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
