#!/usr/bin/env python3
"""Crash and fault harness: kill -9 each writer of the store at random
moments under load, then check that every acknowledged opt-out,
complaint or bounce is in the store, that the store opens and verifies,
and that the next writer works.  Bounded: ROUNDS kills per scenario
(default 8) and at most ~60 s each.  Not part of make check (slow, random);
run it by hand:

    python3 tests/bench/crash.py [--rounds N] [--seed S] [SCENARIO...]

Scenarios: unsubd feedback import optout reader policyd.  The seed is
printed so that a failing run can be repeated.  Uses loopback ports
18201-18203 and a folder under /tmp/rvdur-crash-*.  Exit 1 on any
violation.
"""
import argparse
import http.client
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.path.join(TOP, os.environ.get("BUILD", "build"), "bin")
UD_PORT = 18201
PD_PORT = 18202

failures = []


def say(msg):
    print(msg, flush=True)


def check(name, cond, detail=""):
    if cond:
        say("ok - %s" % name)
    else:
        say("not ok - %s %s" % (name, detail))
        failures.append(name)


class Store:
    def __init__(self, root, extra=""):
        self.root = root
        self.conf = os.path.join(root, "optgate.conf")
        with open(self.conf, "w") as f:
            f.write("""[store]
path = %(r)s/store
map_size = 64M
[keys]
file = %(r)s/keys
[feedback]
quarantine = %(r)s/quarantine
[unsubd]
listen = 127.0.0.1:%(ud)d
timeout = 5s
rate_limit = 0
token_max_age = 30d
[policyd]
listen = inet:127.0.0.1:%(pd)d
%(extra)s
[stream news]
match = sender:news@example.com
class = marketing
consent = none
caps = 30/1d
sender = example.com
unsubscribe = http://127.0.0.1:%(ud)d/u/%%t
""" % {"r": root, "ud": UD_PORT, "pd": PD_PORT, "extra": extra})
        self.og("init")

    def og(self, *args, stdin=None, check_rc=True):
        p = subprocess.run([os.path.join(BIN, "optgate"), "-c", self.conf]
                           + list(args), input=stdin, capture_output=True)
        # kill -9 is no power cut: the counters must never need a rebuild
        if b"rebuilt empty" in p.stderr:
            check("no counters rebuild after a kill (optgate %s)" %
                  args[0], False, p.stderr.decode()[-300:])
        if check_rc and p.returncode != 0:
            raise RuntimeError("optgate %s: %d %s" % (
                " ".join(args), p.returncode, p.stderr.decode()))
        return p

    def refused(self):
        """Addresses with an opt-out or a suppression, from export."""
        out = self.og("export").stdout.decode().splitlines()[1:]
        got = set()
        for line in out:
            f = line.split(",")
            if len(f) > 4 and f[4] in ("optout", "suppressed"):
                got.add(f[0])
        return got

    def verify(self):
        p = self.og("verify", check_rc=False)
        return p.returncode == 0, (p.stdout + p.stderr).decode().strip()

    def after_crash(self, what, acked, probe):
        """The checks after each kill."""
        ok, out = self.verify()
        check("%s: verify passes" % what, ok, out)
        got = self.refused()
        lost = sorted(a for a in acked if a not in got)
        check("%s: all %d acknowledged in the store" % (what, len(acked)),
              not lost, "lost: %s" % lost[:5])
        p = self.og("optout", probe, check_rc=False)
        check("%s: the next writer works" % what, p.returncode == 0,
              p.stderr.decode())


def start_unsubd(st):
    log = open(os.path.join(st.root, "unsubd.log"), "ab")
    p = subprocess.Popen([os.path.join(BIN, "optgate-unsubd"), "-c", st.conf,
                          "-f"], stdout=log, stderr=log)
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", UD_PORT, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200 and p.poll() is None:
                return p
        except OSError:
            pass
        if p.poll() is not None:
            raise RuntimeError("unsubd exited %d" % p.returncode)
        time.sleep(0.1)
    raise RuntimeError("unsubd did not start")


def tokens(st, addrs):
    out = {}
    for a in addrs:
        t = st.og("token", a, "--stream", "news").stdout.decode()
        out[a] = t.split("token: ")[1].split()[0]
    return out


def kill_workers(rng, worker, procs, lock, stop, secs, gap, prob):
    """Run worker(0..3) in threads; until a random moment within secs,
    every random gap (up to gap s) kill -9 each process in procs with
    probability prob; then stop and join them.  Returns the kills."""
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in ts:
        t.start()
    t_end = time.time() + rng.uniform(0.3, secs)
    kills = 0
    while time.time() < t_end:
        time.sleep(rng.uniform(gap / 10, gap))
        with lock:
            for p in list(procs):
                if rng.random() < prob:
                    p.send_signal(signal.SIGKILL)
                    kills += 1
    stop.set()
    for t in ts:
        t.join(30)
    return kills


def sc_unsubd(st, rounds, rng):
    """Many one-click POSTs from 8 clients; kill -9 at a random moment."""
    for r in range(rounds):
        addrs = ["ud%d-%d@example.org" % (r, i) for i in range(400)]
        tok = tokens(st, addrs)
        ud = start_unsubd(st)
        acked, lock = set(), threading.Lock()
        work = list(addrs)

        def client():
            while True:
                with lock:
                    if not work:
                        return
                    a = work.pop()
                try:
                    c = http.client.HTTPConnection("127.0.0.1", UD_PORT,
                                                   timeout=10)
                    c.request("POST", "/u/" + tok[a],
                              "List-Unsubscribe=One-Click",
                              {"Content-Type":
                               "application/x-www-form-urlencoded"})
                    if c.getresponse().status == 200:
                        with lock:
                            acked.add(a)
                except OSError:
                    pass

        ts = [threading.Thread(target=client) for _ in range(8)]
        for t in ts:
            t.start()
        time.sleep(rng.uniform(0.02, 0.4))
        ud.send_signal(signal.SIGKILL)
        ud.wait()
        for t in ts:
            t.join(15)
        st.after_crash("unsubd round %d (%d/400 got 200)" % (r, len(acked)),
                       acked, "probe-ud%d@example.org" % r)


def dsn(rcpt, n):
    return ("""Return-Path: <>
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn-%d@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B1"

--B1
Content-Type: text/plain

<%s>: host mx.example.org[192.0.2.1] said: 550 5.1.1 no such user

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; %s
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such user

--B1
Content-Type: text/rfc822-headers

From: news@example.com
To: %s
Subject: News
Message-Id: <orig-%d@example.com>

--B1--
""" % (n, rcpt, rcpt, rcpt, n)).encode()


def sc_feedback(st, rounds, rng):
    """4 parallel pipe(8)-style `optgate bounce` runs; kill -9 the
    running ones at a random moment; exit 0 = acknowledged."""
    n = 0
    for r in range(rounds):
        acked, lock = set(), threading.Lock()
        procs, stop = set(), threading.Event()

        def worker(w):
            nonlocal n
            while not stop.is_set():
                with lock:
                    n += 1
                    k = n
                a = "fb%d-%d@example.org" % (r, k)
                st.og("optin", a, "--stream", "news", "--single")
                p = subprocess.Popen([os.path.join(BIN, "optgate"), "-c",
                                      st.conf, "bounce"],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                with lock:
                    procs.add(p)
                try:
                    p.communicate(dsn(a, k))
                except BrokenPipeError:
                    p.wait()
                with lock:
                    procs.discard(p)
                if p.returncode == 0:
                    with lock:
                        acked.add(a)

        kills = kill_workers(rng, worker, procs, lock, stop, 2.0, 0.05, 0.5)
        st.after_crash("feedback round %d (%d killed, %d exited 0)" %
                       (r, kills, len(acked)), acked,
                       "probe-fb%d@example.org" % r)


def sc_import(st, rounds, rng):
    """A 200k-line import killed -9 at a random moment, then rerun."""
    f = os.path.join(st.root, "big.csv")
    with open(f, "w") as out:
        out.write("address,stream,state,time,source\n")
        for i in range(200000):
            out.write("imp%d@example.net,news,%s,2026-01-01T00:00:00Z,"
                      "signup\n" % (i, "optout" if i % 5 == 0 else "optin"))
    for r in range(rounds):
        p = subprocess.Popen([os.path.join(BIN, "optgate"), "-c", st.conf,
                              "import", f], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        st.after_crash("import round %d (rc %d)" % (r, p.returncode), set(),
                       "probe-imp%d@example.org" % r)
    p = st.og("import", f, check_rc=False)
    check("import: rerun after the kills finishes", p.returncode == 0,
          p.stderr.decode()[-300:])
    got = st.refused()
    want = set("imp%d@example.net" % i for i in range(0, 200000, 5))
    check("import: every opt-out of the file is in", want <= got,
          "%d missing" % len(want - got))


def sc_optout(st, rounds, rng):
    """4 loops of optgate optout / suppress; kill -9 a random one."""
    n = 0
    for r in range(rounds):
        acked, lock = set(), threading.Lock()
        procs, stop = set(), threading.Event()

        def worker(w):
            nonlocal n
            while not stop.is_set():
                with lock:
                    n += 1
                    k = n
                a = "cli%d-%d@example.org" % (r, k)
                args = ["optout", a, "--all"] if k % 2 else [
                    "suppress", a, "--reason", "complaint"]
                p = subprocess.Popen([os.path.join(BIN, "optgate"), "-c",
                                      st.conf] + args,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                with lock:
                    procs.add(p)
                p.wait()
                with lock:
                    procs.discard(p)
                if p.returncode == 0:
                    with lock:
                        acked.add(a)

        kills = kill_workers(rng, worker, procs, lock, stop, 1.5, 0.03, 0.3)
        st.after_crash("optout round %d (%d killed, %d exited 0)" %
                       (r, kills, len(acked)), acked,
                       "probe-cli%d@example.org" % r)


def readers(st, env="consent"):
    """Reader slots (pids) of an environment, from mdb_stat -r."""
    p = subprocess.run(["mdb_stat", "-r", os.path.join(st.root, "store",
                                                       env)],
                       capture_output=True)
    out = []
    for line in p.stdout.decode().splitlines():
        f = line.split()
        if len(f) >= 3 and f[0].isdigit():
            out.append(int(f[0]))
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def sc_reader(st, rounds, rng):
    """kill -9 readers that hold reader slots: a backup stopped inside its
    read transaction, and optgate-unsubd (per-thread read handles); the
    stale slots must be freed by the next writer and not pin old pages
    (the file must not keep growing)."""
    f = os.path.join(st.root, "readers.csv")
    with open(f, "w") as out:
        out.write("address,stream,state\n")
        for i in range(100000):
            out.write("rd%d@example.net,news,optin\n" % i)
    st.og("import", f)
    data = os.path.join(st.root, "store", "consent", "data.mdb")
    # A live daemon keeps the environment open; without one the next
    # opener resets the whole reader table (LMDB's exclusive lock).
    log = open(os.path.join(st.root, "policyd.log"), "ab")
    pd = subprocess.Popen([os.path.join(BIN, "optgate-policyd"), "-c",
                           st.conf, "-f"], stdout=log, stderr=log)
    time.sleep(0.5)
    for r in range(rounds):
        dest = os.path.join(st.root, "bk%d" % r)
        killed = []
        p = subprocess.Popen([os.path.join(BIN, "optgate"), "-c", st.conf,
                              "backup", dest], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        # stop it inside its read transaction (a slot with its pid)
        for _ in range(400):
            if p.pid in readers(st):
                break
            time.sleep(0.001)
        p.send_signal(signal.SIGSTOP)
        if p.pid in readers(st):
            killed.append(p.pid)
        p.send_signal(signal.SIGKILL)
        p.wait()
        ud = start_unsubd(st)
        c = http.client.HTTPConnection("127.0.0.1", UD_PORT, timeout=5)
        c.request("GET", "/u/" + tokens(st, ["rd1@example.net"])
                  ["rd1@example.net"])
        c.getresponse().read()
        time.sleep(rng.uniform(0, 0.3))
        if ud.pid in readers(st):
            killed.append(ud.pid)
        ud.send_signal(signal.SIGKILL)
        ud.wait()
        stale = [x for x in readers(st) if not alive(x)]
        size0 = os.path.getsize(data)
        for k in range(300):
            st.og("optout", "rd%d@example.net" % (r * 300 + k))
        size1 = os.path.getsize(data)
        left = [x for x in readers(st) if not alive(x)]
        check("reader round %d: %d killed reader(s) held slots, %d stale "
              "before the writers, %d after" %
              (r, len(killed), len(stale), len(left)),
              not left, str(left))
        check("reader round %d: 300 opt-outs after the kill grow the file "
              "by %d KiB" % (r, (size1 - size0) >> 10),
              size1 - size0 <= 1 << 20)
        st.after_crash("reader round %d" % r, set(),
                       "probe-rd%d@example.org" % r)
    pd.terminate()
    pd.wait()


def pd_request(sock, **kv):
    req = {"request": "smtpd_access_policy", "protocol_state": "RCPT",
           "sender": "news@example.com", "recipient": "x@example.org",
           "client_address": "192.0.2.1", "client_name": "c.example",
           "instance": "1"}
    req.update(kv)
    sock.sendall(("".join("%s=%s\n" % i for i in req.items()) + "\n")
                 .encode())
    buf = b""
    while not buf.endswith(b"\n\n"):
        d = sock.recv(4096)
        if not d:
            raise OSError("closed")
        buf += d
    return buf.decode().split("=", 1)[1].strip()


def sc_policyd(st, rounds, rng):
    """policyd counting sends (RCPT + END-OF-MESSAGE) from 4 connections,
    kill -9 at a random moment; the consent store is untouched and the
    counters open (or are rebuilt empty with a warning)."""
    for i in range(40):
        st.og("optout", "pdout%d@example.org" % i)
    before = st.refused()
    for r in range(rounds):
        log = open(os.path.join(st.root, "policyd.log"), "ab")
        pd = subprocess.Popen([os.path.join(BIN, "optgate-policyd"), "-c",
                               st.conf, "-f"], stdout=log, stderr=log)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", PD_PORT), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        stop, counts, bad = threading.Event(), [0], []

        def conn(w):
            try:
                s = socket.create_connection(("127.0.0.1", PD_PORT), 5)
                k = 0
                while not stop.is_set():
                    k += 1
                    inst = "%d.%d.%d" % (r, w, k)
                    rc = "pd%d@example.org" % (k % 50)
                    a = pd_request(s, recipient=rc, instance=inst)
                    if a.startswith("5") or a == "DUNNO" or \
                            a.startswith("4") or a.startswith("PREPEND"):
                        pass
                    else:
                        bad.append(a)
                    pd_request(s, recipient=rc, instance=inst,
                               protocol_state="END-OF-MESSAGE")
                    counts[0] += 1
            except OSError:
                pass

        ts = [threading.Thread(target=conn, args=(w,)) for w in range(4)]
        for t in ts:
            t.start()
        time.sleep(rng.uniform(0.2, 1.5))
        pd.send_signal(signal.SIGKILL)
        pd.wait()
        stop.set()
        for t in ts:
            t.join(10)
        check("policyd round %d: answers well-formed (%d sends)" %
              (r, counts[0]), not bad, str(bad[:3]))
        check("policyd round %d: consent unchanged" % r,
              before <= st.refused())
        st.after_crash("policyd round %d" % r, before,
                       "probe-pd%d@example.org" % r)
        p = st.og("status", "pd1@example.org", "--stream", "news",
                  check_rc=False)
        check("policyd round %d: status reads the counters (rc %d)" %
              (r, p.returncode), p.returncode in (0, 1),
              p.stderr.decode())


SCEN = {"unsubd": sc_unsubd, "feedback": sc_feedback, "import": sc_import,
        "optout": sc_optout, "reader": sc_reader, "policyd": sc_policyd}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("scen", nargs="*", default=list(SCEN))
    a = ap.parse_args()
    say("# seed %d" % a.seed)
    for name in a.scen:
        rng = random.Random(a.seed)
        root = tempfile.mkdtemp(prefix="rvdur-crash-%s." % name, dir="/tmp")
        t0 = time.time()
        try:
            SCEN[name](Store(root), a.rounds, rng)
        finally:
            say("# %s: %.1f s" % (name, time.time() - t0))
            if not os.environ.get("KEEP"):
                shutil.rmtree(root, ignore_errors=True)
            else:
                say("# kept %s" % root)
    say("# %d violation(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
