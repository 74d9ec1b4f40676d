#!/usr/bin/env python3
"""Tables for docs/benchmarks.md from one bench/run.sh results folder (usage: report.py RESULTS_DIR).

Reads <pass>/results.tsv written by the anchor script (columns: group system test proto value unit
server-core% client-core% server-procs% note) and memory.tsv written by bench/run.sh. Values are medians of the
repeats; ratios are ours / HAProxy within one pass (one run of the anchor script), never across passes. Our node is
compared with both HAProxy set-ups of the anchor script: `haproxy` (mode http, re-uses back-end connections) and
`haproxy-tcp` (mode tcp, layer 4 like our node). Folders from before haproxy-tcp was measured show n/a for it."""
import collections, os, re, statistics, sys

if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
    sys.exit("usage: report.py RESULTS_DIR (a bench/run.sh results folder)")
R = sys.argv[1]
P12 = "TLS1.2 ECDHE-RSA-AES128-GCM (RSA-2048)"
P13 = "TLS1.3 AES128-GCM (ECDSA P-256)"
HA, HT, OURS = "haproxy", "haproxy-tcp", "sslcluster"
OURS_TITLE = "sslcluster (OpenSSL)"
PASSES = ["main", "tls12"]


def load(name):
    d = collections.defaultdict(list)
    p = os.path.join(R, name, "results.tsv")
    if not os.path.exists(p):
        return None
    for line in open(p):
        r = line.rstrip("\n").split("\t")
        r += [""] * (10 - len(r))
        d[(r[0], r[1], r[2], r[3])].append(r)
    return d


passes = {n: load(n) for n in PASSES}


def old_engines():
    """Passes of an older folder whose pass.txt names another engine than OpenSSL (crypto=..., before --crypto went)."""
    found = []
    for n in PASSES:
        p = os.path.join(R, n, "pass.txt")
        m = re.search(r"crypto=(\S+)", open(p).read()) if os.path.exists(p) else None
        if m and m.group(1) != "openssl":
            found.append(f"{n}: --crypto {m.group(1)}")
    return found


def num(x):
    try:
        return float(x)
    except ValueError:
        return None


class Fig:
    def __init__(self, rows):
        vals = [num(r[4]) for r in rows if num(r[4]) is not None]
        self.ok = bool(vals)
        self.vals = vals
        self.med = statistics.median(vals) if vals else None
        mid = min(rows, key=lambda r: abs((num(r[4]) or 0) - (self.med or 0))) if rows else None
        self.srv = num(mid[6]) if mid else None
        self.proc = num(mid[8]) if mid else None
        note = mid[9] if mid else ""
        m = re.search(r"(TLSv1\.[23]) (\S+)", note)
        self.tls = f"{m.group(1)} {m.group(2)}" if m else ""
        m = re.search(r"full=(\d+) resumed=(\d+)", note)
        self.shim = (int(m.group(1)), int(m.group(2))) if m else None
        m = re.search(r"failed=(\d+) errored=(\d+) timeout=(\d+)", note)
        self.errors = sum(int(x) for x in m.groups()) if m else 0
        m = re.search(r"(Socket errors[^;]*|Non-2xx[^;]*)", note)
        self.wrk_err = m.group(1).strip() if m else ""

    def cell(self, unit=""):
        if not self.ok:
            return "FAIL"
        v = f"{self.med:,.0f}" if self.med >= 100 else f"{self.med:,.1f}"
        extra = []
        if len(self.vals) > 1:
            extra.append("runs " + "/".join(f"{x:,.0f}" for x in self.vals))
        if self.tls:
            extra.append(self.tls.replace("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA").replace("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA").replace("TLS_AES_128_GCM_SHA256", "AES128-GCM"))
        if self.shim:
            extra.append(f"{self.shim[1]} of {sum(self.shim)} resumed")
        if self.srv is not None:
            extra.append(f"core {self.srv:.0f}%")
        if self.errors:
            extra.append(f"{self.errors} errors")
        if self.wrk_err:
            extra.append(self.wrk_err)
        return f"**{v}** ({'; '.join(extra)})"


def get(pas, system, test, proto, group="tls"):
    d = passes.get(pas)
    if d is None:
        return None
    rows = d.get((group, system, test, proto))
    return Fig(rows) if rows else None


def ratio(a, b):
    if not a or not b or not a.ok or not b.ok or not b.med:
        return "n/a"
    return f"{a.med / b.med:.2f}"


def core_ratio(a, b):
    """Ratio of the values per fully busy server core (value / server-core busy fraction)."""
    if not a or not b or not a.ok or not b.ok or not a.srv or not b.srv or not b.med:
        return "n/a"
    return f"{(a.med / a.srv) / (b.med / b.srv):.2f}"


def cell(x):
    return x.cell() if x else "n/a"


out = []
w = out.append
w("### Ours / HAProxy (each row from one run of the anchor script; median of the repeats)\n")
mode_file = os.path.join(R, "node-mode.txt")
mode = dict(line.split("=", 1) for line in open(mode_file).read().split()) if os.path.exists(mode_file) else {}
reuse = mode.get("HTTP_REUSE") == "1"
warm_up = mode.get("WARM_UP")  # older folders do not say
w("HAProxy http: `mode http`, parses HTTP and re-uses back-end connections; HAProxy tcp: `mode tcp`, layer 4 with one "
  "back-end connection per client connection. Our node: " +
  ("`ssl-server N http-reuse` (reads HTTP and re-uses back-end connections, as HAProxy http). " if reuse
   else "one back-end connection per client connection (layer 4, as HAProxy tcp). ") +
  ("It inserts headers into every request (`ssl-server N http-header`), so it reads HTTP. "
   if mode.get("HTTP_HEADER") == "1" else "") +
  (f"It ran its data-path warm-up of {warm_up} connections before it listened. " if warm_up and warm_up != "0"
   else "It ran without its data-path warm-up, so the first row of each pass met a node that still compiled. "
   if warm_up == "0" else "") +
  "Cells: **median** (individual runs; protocol and suite the client negotiated; for handshake rows how many of the "
  "client's handshakes were resumptions; busy % of the server core 0 during the run). The ratio per busy core "
  "divides each value by its server-core busy fraction first (it matters where a run did not saturate core 0).\n")
old = old_engines()
if old:
    w(f"Note: an older results folder; our node ran with another engine than OpenSSL ({'; '.join(old)}).\n")
w(f"| figure | pass | HAProxy http | HAProxy tcp | {OURS_TITLE} | ours / HAProxy http | ours / HAProxy tcp "
  "| per busy core, ours / http | per busy core, ours / tcp |")
w("|---|---|---|---|---|---|---|---|---|")
rows = [
    ("Full handshakes/s, TLS 1.2 ECDHE-RSA-2048 AES128-GCM", "tls12", "hs_full", P12),
    ("Full handshakes/s, TLS 1.3 ECDSA P-256 AES128-GCM", "main", "hs_full", P13),
    ("Keep-alive 100 B requests/s, TLS 1.2 RSA port", "tls12", "keepalive_100B", P12),
    ("Keep-alive 100 B requests/s, TLS 1.3 ECDSA port", "main", "keepalive_100B", P13),
    ("1 MiB bulk MB/s, TLS 1.2 RSA port", "tls12", "bulk_1MiB", P12),
    ("1 MiB bulk MB/s, TLS 1.3 ECDSA port", "main", "bulk_1MiB", P13),
    # What each side negotiated and how many handshakes resumed is in the cells.
    ("Resumed TLS 1.2, client keeps its session", "tls12", "hs_resume_ticket", "TLS1.2 session ticket"),
    ("TLS 1.3, client offers its PSK ticket, ECDSA port", "main", "hs_resume_ticket", "TLS1.3 PSK ticket (psk_dhe_ke)"),
    ("Default client, RSA port: full handshakes/s", "main", "hs_full", P12),
    ("Default client offering no ticket, RSA port (session ID)", "main", "hs_resume_id", "TLS1.2 session ID"),
    ("Default client, RSA port: keep-alive 100 B requests/s", "main", "keepalive_100B", P12),
    ("Default client, RSA port: 1 MiB bulk MB/s", "main", "bulk_1MiB", P12),
]
for label, pas, test, proto in rows:
    a, t, b = get(pas, HA, test, proto), get(pas, HT, test, proto), get(pas, OURS, test, proto)
    w(f"| {label} | {pas} | {cell(a)} | {cell(t)} | {cell(b)} | {ratio(b, a)} | {ratio(b, t)} "
      f"| {core_ratio(b, a)} | {core_ratio(b, t)} |")

w("\n### Resident memory per 1,000 idle TLS connections (idle_conns.py: n connections, one request each, then idle; RSS "
  "of the process tree, fresh server process per row)\n")
w(f"| port / protocol | HAProxy http | HAProxy tcp | {OURS_TITLE} | ours / HAProxy http | ours / HAProxy tcp |")
w("|---|---|---|---|---|---|")
mem = collections.defaultdict(dict)
mp = os.path.join(R, "memory.tsv")
if os.path.exists(mp):
    for line in open(mp):
        f = line.rstrip("\n").split("\t")
        if len(f) < 4:
            continue
        m = re.search(r"(\d+) idle TLS connections: RSS (\d+) -> (\d+) KiB, ([\d.]+) KiB per connection", f[3])
        mem[f[1]][f[0]] = (int(m.group(1)), int(m.group(2)), int(m.group(3)), float(m.group(4))) if m else None
MISSING = object()  # no row for this system (not measured), as opposed to a row that failed (None)


def mcell(x):
    if x is MISSING:
        return "n/a"
    if not x:
        return "FAIL"
    n, before, after, per = x
    return f"**{per * 1000 / 1024:,.1f} MiB** ({per:.1f} KiB/conn; n={n}; RSS {before / 1024:,.0f} -> {after / 1024:,.0f} MiB)"


def mratio(o, h):
    ok = lambda x: x is not MISSING and x
    return f"{o[3] / h[3]:.1f}" if ok(o) and ok(h) and h[3] > 0 else "n/a"


if not mem:
    w("| (no memory.tsv: pass memory not run) | n/a | n/a | n/a | n/a | n/a |")
for proto, d in mem.items():
    h, t, o = d.get(HA, MISSING), d.get(HT, MISSING), d.get(OURS, MISSING)
    w(f"| {proto} | {mcell(h)} | {mcell(t)} | {mcell(o)} | {mratio(o, h)} | {mratio(o, t)} |")

dp = os.path.join(R, "drain.tsv")
if os.path.exists(dp):
    w("\n### A graceful stop with idle keep-alive clients (drain_conns.py: one request each, then idle; HAProxy SIGUSR1, "
      "ours SIGTERM; TLS 1.3 port)\n")
    w("| server | what its idle clients saw |")
    w("|---|---|")
    for line in open(dp):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 3:
            w(f"| {({HA: 'HAProxy http', HT: 'HAProxy tcp'}).get(f[0], OURS_TITLE)} | {f[2]} |")

w("\n### Server CPU during the runs (% of one core used by the server's process tree; same runs as the first table)\n")
w("| figure | HAProxy http procs % | HAProxy tcp procs % | sslcluster procs % |")
w("|---|---|---|---|")
for label, pas, test, proto in rows[:6]:
    a, t, b = get(pas, HA, test, proto), get(pas, HT, test, proto), get(pas, OURS, test, proto)
    f = lambda x: f"{x.proc:.0f}" if x and x.proc is not None else "n/a"
    w(f"| {label} | {f(a)} | {f(t)} | {f(b)} |")

w("\n### Settings of each pass\n")
w("```")
for n in PASSES:
    p = os.path.join(R, n, "pass.txt")
    if os.path.exists(p):
        w(open(p).read().strip())
w("```")
v = os.path.join(R, "main", "versions.txt")
if os.path.exists(v):
    w("\nMachine and versions (main pass):\n\n```\n" + open(v).read().strip() + "\n```")
print("\n".join(out))
