"""unsubd_clients.py - misbehaving and massed HTTP clients for the
optgate-unsubd tests (standard library only; every loop bounded).

  slow PORT MODE GAP LIMIT     one byte every GAP s (MODE headers|body);
                               prints "cut SECONDS SENT" or "notcut ..."
  many PORT N HOLD             open N connections at once and hold them
                               HOLD s, then print "opened N"
  burst PORT N METHOD PATHFILE N concurrent requests on N connections,
                               paths round-robin from PATHFILE; prints
                               "status COUNT" lines and "errors N"
                               (BURST_LOG=FILE: "STATUS PATH" lines)
  batch PORT PID N WAIT        N requests made ready at once for one event
                               loop: idle connections are opened until one
                               epoll instance of process PID watches N of
                               them (any N when PID has none); PID is
                               stopped (SIGSTOP) while a GET /healthz is
                               sent on those N, then resumed; prints
                               "answered K of N in S s" (K answered 200
                               within WAIT s)
  hold PORT SRC N SECS         keep N idle connections from address SRC
                               open for SECS s, opening a new one for
                               each the server closes; prints "ready"
                               once they are open, then "alive A opened
                               O" (A still open at the end, O opened in
                               all)
"""
import os
import re
import selectors
import signal
import socket
import sys
import time


def slow(port, mode, gap, limit):
    path = "/healthz"
    if mode == "headers":
        data = b"GET %s HTTP/1.1\r\nHost: slow\r\nX-Pad: %s\r\n\r\n" % (
            path.encode(), b"a" * 200)
        pre = b""
    else:
        pre = (b"POST /u/AAAA HTTP/1.1\r\nHost: slow\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: 400\r\n\r\n")
        data = b"x" * 400
    # From an address of its own, outside the rate limit tests' buckets.
    s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                 source_address=("127.0.0.3", 0))
    s.sendall(pre)
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < limit and sent < len(data):
        try:
            s.send(data[sent:sent + 1])
            sent += 1
            s.settimeout(gap)
            r = s.recv(4096)
            if r == b"" or b"HTTP/1.1 4" in r or b"HTTP/1.1 5" in r:
                print("cut %.2f %d" % (time.monotonic() - t0, sent))
                return
        except socket.timeout:
            continue
        except OSError:
            print("cut %.2f %d" % (time.monotonic() - t0, sent))
            return
    print("notcut %.2f %d" % (time.monotonic() - t0, sent))


def many(port, n, hold):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        socks.append(s)
    print("opened %d" % len(socks), flush=True)
    time.sleep(hold)
    for s in socks:
        s.close()


def hold(port, src, n, secs):
    def opened(s):
        try:
            return s.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    socks = []
    total = 0
    t0 = time.monotonic()
    ready = False
    while True:
        keep = [s for s in socks if opened(s)]
        for s in socks:
            if s not in keep:
                s.close()
        socks = keep
        now = time.monotonic()
        if now >= t0 + secs:
            break
        # none reopened in the last 0.5 s: the count at the end is the
        # server's answer, not connections it has yet to close
        while len(socks) < n and now < t0 + secs - 0.5:
            s = socket.socket()
            s.settimeout(1)
            total += 1
            try:
                s.bind((src, 0))
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                break
            s.setblocking(False)
            socks.append(s)
        if not ready and now - t0 >= 0.3:
            print("ready", flush=True)
            ready = True
        time.sleep(0.05)
    print("alive %d opened %d" % (len(socks), total), flush=True)
    for s in socks:
        s.close()


def burst(port, n, method, pathfile, limit=30.0):
    paths = [l.strip() for l in open(pathfile) if l.strip()]
    # BURST_LOG=FILE: one "STATUS PATH" line per request.
    log = open(os.environ["BURST_LOG"], "w") if os.environ.get(
        "BURST_LOG") else None
    sel = selectors.DefaultSelector()
    conns = {}
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        p = paths[i % len(paths)]
        if method == "POST":
            req = ("POST %s HTTP/1.1\r\nHost: burst\r\nConnection: close\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Length: 26\r\n\r\nList-Unsubscribe=One-Click"
                   % p).encode()
        else:
            req = ("GET %s HTTP/1.1\r\nHost: burst\r\nConnection: close"
                   "\r\n\r\n" % p).encode()
        conns[s] = [req, b"", p]
        sel.register(s, selectors.EVENT_WRITE)
    status = {}
    errors = 0
    t0 = time.monotonic()
    while conns and time.monotonic() - t0 < limit:
        for key, ev in sel.select(timeout=1.0):
            s = key.fileobj
            st = conns[s]
            try:
                if ev & selectors.EVENT_WRITE and st[0]:
                    k = s.send(st[0])
                    st[0] = st[0][k:]
                    if not st[0]:
                        sel.modify(s, selectors.EVENT_READ)
                    continue
                r = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                r = None
            if r:
                st[1] += r
                continue
            code = st[1][9:12].decode(errors="replace") if st[1] else None
            if log:
                log.write("%s %s\n" % (code or "000", st[2]))
            if code:
                status[code] = status.get(code, 0) + 1
            else:
                errors += 1
            sel.unregister(s)
            s.close()
            del conns[s]
    errors += len(conns)
    for s in conns:
        if log:
            log.write("000 %s\n" % conns[s][2])
        s.close()
    if log:
        log.close()
    for code in sorted(status):
        print("status %s %d" % (code, status[code]))
    print("errors %d" % errors)
    print("seconds %.2f" % (time.monotonic() - t0))


def epoll_groups(pid, port, byport):
    """Our connections (client sockets) grouped by the epoll instance of
    pid that watches their server side: /proc/PID/fdinfo of an epoll
    descriptor lists the descriptors it watches (tfd), /proc/net/tcp
    names the peer port of each socket inode."""
    inode_fd, watched = {}, []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", link)
        if m:
            inode_fd[m.group(1)] = int(fd)
        elif link == "anon_inode:[eventpoll]":
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                watched.append({int(x) for x in
                                re.findall(r"tfd:\s*(\d+)", f.read())})
    fd_peer = {}
    for tab in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(tab) as f:
            for line in f.read().splitlines()[1:]:
                c = line.split()
                if (int(c[1].rsplit(":", 1)[1], 16) == port and
                        c[9] in inode_fd):
                    fd_peer[inode_fd[c[9]]] = int(c[2].rsplit(":", 1)[1], 16)
    groups = []
    for fds in watched:
        g = [byport[fd_peer[fd]] for fd in fds
             if fd_peer.get(fd) in byport]
        if g:
            groups.append(g)
    return groups


def stopped(pid):
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
            st = f.read()
        if st[st.rindex(")") + 2] not in "tT":
            return False
    return True


def batch(port, pid, n, wait, most=1500):
    socks = []
    pick = []
    while len(socks) < most:
        for _ in range(100):
            socks.append(socket.create_connection(("127.0.0.1", port),
                                                  timeout=5))
        # Accepted, and their first (write-ready) events consumed.
        time.sleep(0.5)
        byport = {s.getsockname()[1]: s for s in socks}
        groups = epoll_groups(pid, port, byport)
        pick = max(groups, key=len) if groups else socks
        if len(pick) >= n:
            break
    if len(pick) < n:
        print("only %d connections in one event loop" % len(pick))
        return
    pick = pick[:n]
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(200):
            if stopped(pid):
                break
            time.sleep(0.01)
        for s in pick:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: batch\r\n"
                      b"Connection: close\r\n\r\n")
        time.sleep(0.2)
    finally:
        os.kill(pid, signal.SIGCONT)
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    for s in pick:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    got = 0
    left = n
    while left and time.monotonic() - t0 < wait:
        for key, _ in sel.select(timeout=0.1):
            try:
                r = key.fileobj.recv(4096)
            except OSError:
                r = b""
            if r.startswith(b"HTTP/1.1 200"):
                got += 1
            sel.unregister(key.fileobj)
            left -= 1
    print("answered %d of %d in %.2f s" % (got, n, time.monotonic() - t0))
    for s in socks:
        s.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    port = int(sys.argv[2])
    if cmd == "slow":
        slow(port, sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "many":
        many(port, int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "burst":
        burst(port, int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif cmd == "hold":
        hold(port, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "batch":
        batch(port, int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
