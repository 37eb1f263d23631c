# Messages in flight at once, on many MTA connections, to one recipient
# of stream promo (caps = 1/1d, decided at RCPT): each round opens N
# connections (MAIL FROM:<promo@example.com>), then writes RCPT on all of
# them back to back, so libmilter's session threads decide together, and
# reads the answers.  At most one may pass: the others see its hold.  The
# transactions are aborted (nothing counted, holds given back), so every
# round starts from no send.  miltertest waits for each answer, so this
# speaks the milter protocol itself.  Prints the rounds where more than
# one passed, or "none".
#   python3 hold_race.py SOCKET RCPT ROUNDS N
import socket
import struct
import sys

path, rcpt, rounds, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4])


def pkt(cmd, data=b""):
    return struct.pack("!I", len(data) + 1) + cmd + data


def read_exact(s, n):
    d = b""
    while len(d) < n:
        c = s.recv(n - len(d))
        if not c:
            raise EOFError("milter closed the connection")
        d += c
    return d


def reply(s):
    (n,) = struct.unpack("!I", read_exact(s, 4))
    return read_exact(s, n)


def session():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    # version 6; every action; every step may be skipped; no "no reply"
    # (libmilter then answers each event)
    s.sendall(pkt(b"O", struct.pack("!III", 6, 0x1FF, 0x37F)))
    reply(s)
    s.sendall(pkt(b"C", b"client.example\x004" + struct.pack("!H", 40123) +
                  b"127.0.0.1\x00"))
    reply(s)
    s.sendall(pkt(b"M", b"<promo@example.com>\x00"))
    reply(s)
    return s


bad = []
r = pkt(b"R", b"<" + rcpt.encode() + b">\x00")
for i in range(rounds):
    conns = [session() for _ in range(n)]
    for s in conns:
        s.sendall(r)
    passed = sum(1 for s in conns if reply(s)[:1] == b"c")
    if passed > 1:
        bad.append("round %d: %d passed" % (i + 1, passed))
    # abort, then a MAIL that is answered: the hold is given back
    for s in conns:
        s.sendall(pkt(b"A") + pkt(b"M", b"<promo@example.com>\x00"))
    for s in conns:
        reply(s)
        s.sendall(pkt(b"Q"))
        s.close()
print("; ".join(bad) if bad else "none")
