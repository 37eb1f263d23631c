#!/usr/bin/env python3
"""One SMTP transaction, printing every reply; used by tests/lib/postfix.sh.

usage: smtpclient.py HOST PORT FROM 'TO [TO ...]' [MESSAGE-FILE]

Prints "MAIL <code> <text>", "RCPT <to> <code> <text>" per recipient, then
"DATA <code> <text>" (or "RSET <code> ..." with PF_SEND_ABORT=1).
Exit 0: message accepted; 1: no recipient accepted or DATA refused;
2: connection or protocol trouble.
Env: PF_SEND_ABORT=1 (RSET instead of DATA), PF_SEND_HEADERS (extra header
lines for the default message, separated by a literal \\n), PF_SEND_HELO.
"""
import os
import smtplib
import sys


def line(*parts):
    print(" ".join(str(p) for p in parts), flush=True)


def text(msg):
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return msg.replace("\n", " ")


def main():
    if len(sys.argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    host, port, sender, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        sys.argv[4].split()
    if len(sys.argv) > 5:
        with open(sys.argv[5], "rb") as f:
            body = f.read()
    else:
        extra = os.environ.get("PF_SEND_HEADERS", "")
        hdrs = "".join(h + "\r\n" for h in extra.split("\\n") if h)
        body = ("From: <%s>\r\nTo: <%s>\r\nSubject: optgate test\r\n%s\r\n"
                "test message\r\n" % (sender, rcpts[0], hdrs)).encode()
    try:
        s = smtplib.SMTP(host, port, timeout=30)
        s.ehlo(os.environ.get("PF_SEND_HELO", "client.optgate.test"))
        code, msg = s.mail(sender)
        line("MAIL", code, text(msg))
        if code != 250:
            s.quit()
            return 1
        good = 0
        for r in rcpts:
            code, msg = s.rcpt(r)
            line("RCPT", "<%s>" % r, code, text(msg))
            if code in (250, 251):
                good += 1
        if os.environ.get("PF_SEND_ABORT") == "1":
            code, msg = s.rset()
            line("RSET", code, text(msg))
            s.quit()
            return 1
        if good == 0:
            s.quit()
            return 1
        code, msg = s.data(body)
        line("DATA", code, text(msg))
        s.quit()
        return 0 if code == 250 else 1
    except (OSError, smtplib.SMTPException) as e:
        line("ERROR", text(str(e)))
        return 2


if __name__ == "__main__":
    sys.exit(main())
