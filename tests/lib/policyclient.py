#!/usr/bin/env python3
"""A Postfix policy protocol client for tests (what smtpd's
check_policy_service does), with ways to misbehave.

TARGET is inet:HOST:PORT or unix:PATH.

  query TARGET [name=value ...]
      one RCPT request (defaults below, overridden by the arguments);
      prints the action ("DUNNO", "550 5.7.1 ...") or CLOSED / TIMEOUT
  session TARGET
      one connection; each stdin line is a request ("name=value" words,
      added to the defaults); prints one action per line
  parallel TARGET
      several connections, as several smtpd processes hold them: each
      stdin line is "LABEL name=value ..." (a request on connection LABEL,
      opened at its first line) or "LABEL close"; lines run in order,
      each answered before the next; prints "LABEL action" per request
  send TARGET
      stdin bytes as they are; prints the reply (without "action=") or
      CLOSED (the server closed without replying) or TIMEOUT
  half TARGET
      half a request, then silence; prints "closed N.N" (seconds until the
      server closed) or TIMEOUT
  drip TARGET
      a request one byte every 0.3 s; prints "closed N.N" (seconds until
      the server closed) or the reply
  hangup TARGET
      a full request, then an immediate close (RST)
  unread TARGET
      requests without reading an answer until the server stops taking
      them (its replies back up), then a close (RST) while it still has
      replies to write; prints "stalled after N requests"
  hold TARGET GOFILE
      on one connection, a request every 0.3 s until GOFILE exists;
      prints the first action and "requests=N different=M" (answers that
      differed from the first, including a closed connection)
  many TARGET N
      N connections at once, a request on each; prints "answered=A
      closed=C other=O"
  pipeline TARGET N
      on one connection, a request with long attributes (Postfix's
      ccert_* ones can be), then N short requests in one write before
      reading any answer; prints "answered=A" or "answered=A CLOSED"
Env: PC_TIMEOUT (seconds, default 10).
"""
import os
import select
import socket
import struct
import sys
import time

TIMEOUT = float(os.environ.get("PC_TIMEOUT", "10"))

DEFAULTS = [
    ("request", "smtpd_access_policy"),
    ("protocol_state", "RCPT"),
    ("protocol_name", "ESMTP"),
    ("client_address", "127.0.0.1"),
    ("client_name", "localhost"),
    ("helo_name", "client.test"),
    ("sender", "news@example.com"),
    ("recipient", "ana@example.org"),
    ("recipient_count", "0"),
    ("queue_id", ""),
    ("instance", "1.1.1"),
    ("size", "0"),
    ("sasl_username", ""),
]


def connect(target):
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect(target[5:])
    elif target.startswith("inet:"):
        host, port = target[5:].rsplit(":", 1)
        s = socket.create_connection((host, int(port)), TIMEOUT)
    else:
        raise SystemExit("bad target " + target)
    s.settimeout(TIMEOUT)
    return s


def request(args):
    attrs = dict(DEFAULTS)
    order = [k for k, _ in DEFAULTS]
    for a in args:
        k, _, v = a.partition("=")
        if k not in attrs:
            order.append(k)
        attrs[k] = v
    return ("".join("%s=%s\n" % (k, attrs[k]) for k in order) + "\n").encode()


def read_reply(s):
    """The reply text after action=, or CLOSED / TIMEOUT."""
    data = b""
    try:
        while not data.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                return "CLOSED" if not data else "PARTIAL " + data.decode()
            data += chunk
    except socket.timeout:
        return "TIMEOUT"
    except ConnectionResetError:
        return "CLOSED"
    text = data.decode("utf-8", "replace").strip("\n")
    return text[7:] if text.startswith("action=") else "GARBLED " + text


def cmd_query(target, args):
    s = connect(target)
    s.sendall(request(args))
    print(read_reply(s))


def cmd_session(target):
    s = connect(target)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        s.sendall(request(line.split()))
        print(read_reply(s), flush=True)


def cmd_parallel(target):
    conns = {}
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        label, args = words[0], words[1:]
        if args == ["close"]:
            conns.pop(label).close()
            continue
        if label not in conns:
            conns[label] = connect(target)
        conns[label].sendall(request(args))
        print(label, read_reply(conns[label]), flush=True)
    for s in conns.values():
        s.close()


def cmd_send(target):
    s = connect(target)
    try:
        s.sendall(sys.stdin.buffer.read())
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(read_reply(s))


def cmd_half(target):
    s = connect(target)
    s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\nrecip")
    t0 = time.time()
    r = read_reply(s)
    if r == "CLOSED":
        print("closed %.1f" % (time.time() - t0))
    else:
        print(r)


def cmd_drip(target):
    s = connect(target)
    t0 = time.time()
    for b in request([]):
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        readable, _, _ = select.select([s], [], [], 0.3)
        if readable:
            break
    r = read_reply(s)
    print("closed %.1f" % (time.time() - t0) if r == "CLOSED" else r)


def cmd_hangup(target):
    s = connect(target)
    s.sendall(request([]))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def cmd_unread(target):
    s = connect(target)
    req = request(["recipient=dan@example.org", "instance=u1"])
    s.settimeout(1.0)
    n = 0
    try:
        while n < 1000000:
            s.sendall(req * 100)
            n += 100
    except socket.timeout:
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("stalled after %d requests" % n)


def cmd_hold(target, gofile):
    s = connect(target)
    s.sendall(request([]))
    first = read_reply(s)
    print(first, flush=True)
    deadline = time.time() + 120
    n = bad = 0
    while not os.path.exists(gofile) and time.time() < deadline:
        time.sleep(0.3)
        s.sendall(request([]))
        n += 1
        if read_reply(s) != first:
            bad += 1
    print("requests=%d different=%d" % (n, bad), flush=True)


def cmd_many(target, n):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    socks = []
    for _ in range(n):
        socks.append(connect(target))
    req = request([])
    for s in socks:
        s.sendall(req)
    answered = closed = other = 0
    pending = {s.fileno(): [s, b""] for s in socks}
    deadline = time.time() + TIMEOUT * 3
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLIN)
    while pending and time.time() < deadline:
        for fd, _ in poller.poll(1000):
            if fd not in pending:
                continue
            poller.unregister(fd)
            s, buf = pending[fd]
            try:
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            if not chunk:
                closed += 1
                del pending[fd]
                continue
            buf += chunk
            pending[fd][1] = buf
            if not buf.endswith(b"\n\n"):
                poller.register(fd, select.POLLIN)
            else:
                if buf.startswith(b"action="):
                    answered += 1
                else:
                    other += 1
                del pending[fd]
    other += len(pending)
    print("answered=%d closed=%d other=%d" % (answered, closed, other))
    for s in socks:
        s.close()


def cmd_pipeline(target, n):
    s = connect(target)
    s.sendall(request(["ccert_%d=%s" % (i, "x" * 4000) for i in range(3)]))
    read_reply(s)
    req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
           b"sender=news@example.com\nrecipient=dan@example.org\n"
           b"instance=p1\n\n")
    s.sendall(req * n)
    data = b""
    answered = 0
    try:
        while answered < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            answered = data.count(b"\n\n")
    except (socket.timeout, ConnectionResetError):
        pass
    print("answered=%d%s" % (answered, "" if answered == n else " CLOSED"))


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, target = sys.argv[1], sys.argv[2]
    try:
        if cmd == "query":
            cmd_query(target, sys.argv[3:])
        elif cmd == "session":
            cmd_session(target)
        elif cmd == "parallel":
            cmd_parallel(target)
        elif cmd == "send":
            cmd_send(target)
        elif cmd == "half":
            cmd_half(target)
        elif cmd == "drip":
            cmd_drip(target)
        elif cmd == "hangup":
            cmd_hangup(target)
        elif cmd == "unread":
            cmd_unread(target)
        elif cmd == "hold":
            cmd_hold(target, sys.argv[3])
        elif cmd == "many":
            cmd_many(target, int(sys.argv[3]))
        elif cmd == "pipeline":
            cmd_pipeline(target, int(sys.argv[3]))
        else:
            sys.stderr.write(__doc__)
            return 2
    except (ConnectionRefusedError, FileNotFoundError) as e:
        print("REFUSED %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
