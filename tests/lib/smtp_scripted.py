#!/usr/bin/env python3
"""An SMTP server on loopback that refuses by recipient, for live bounces.

usage: smtp_scripted.py DIR PORT [REJECT_PORT]

Plays "the internet" for a real MTA so that the MTA writes its own
bounces (tests/integration/report_live_mta.sh).  RCPT replies by the
recipient's local part:
  unknown*   550 5.1.1 <a>: Recipient address rejected: User unknown
  fullbare*  552 Mailbox full                (no enhanced code)
  full*      552 5.2.2 <a>: Mailbox full, quota exceeded
  policy*    554 5.7.1 Service unavailable; Client host [127.0.0.1]
             blocked using zen.spamhaus.org; ...
  tempfail*  451 4.2.0 <a>: Greylisted, try again later
  spam*      accepted; end of DATA 554 5.7.1 Message rejected as spam by
             content filter
  others     250; the message is stored in DIR, one file each (first
             line X-Sink-Envelope: from=... to=...)
REJECT_PORT (optional) answers every connection 554 5.7.1 and closes;
its address is $REJ_HOST (default 127.0.0.1).  Exits after 2 hours.
"""
import asyncio
import os
import sys
import time

DIR = sys.argv[1]
PORT = int(sys.argv[2])
PORT_REJ = int(sys.argv[3]) if len(sys.argv) > 3 else 0
seq = [0]


def rcpt_reply(addr):
    local = addr.split("@")[0].lower()
    if local.startswith("unknown"):
        return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % addr
    if local.startswith("fullbare"):
        return "552 Mailbox full"
    if local.startswith("full"):
        return "552 5.2.2 <%s>: Mailbox full, quota exceeded" % addr
    if local.startswith("policy"):
        return "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1"
    if local.startswith("tempfail"):
        return "451 4.2.0 <%s>: Greylisted, try again later" % addr
    return "250 2.1.5 Ok"


async def session(reader, writer):
    def say(line):
        writer.write((line + "\r\n").encode())

    say("220 sink.optgate.test ESMTP scripted sink")
    mail = None
    rcpts = []
    try:
        while True:
            raw = await asyncio.wait_for(reader.readline(), 60)
            if not raw:
                break
            line = raw.decode("latin-1").rstrip("\r\n")
            cmd = line[:4].upper()
            if cmd in ("EHLO",):
                say("250-sink.optgate.test")
                say("250-8BITMIME")
                say("250-ENHANCEDSTATUSCODES")
                say("250 SIZE 10240000")
            elif cmd == "HELO":
                say("250 sink.optgate.test")
            elif cmd == "MAIL":
                mail = line[10:].strip()
                rcpts = []
                say("250 2.1.0 Ok")
            elif cmd == "RCPT":
                a = line[8:].strip()
                a = a.split()[0] if a else a
                a = a.strip("<>")
                r = rcpt_reply(a)
                if r.startswith("250"):
                    rcpts.append(a)
                say(r)
            elif cmd == "DATA":
                if not rcpts:
                    say("554 5.5.1 Error: no valid recipients")
                    continue
                say("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    raw = await asyncio.wait_for(reader.readline(), 60)
                    if not raw or raw.rstrip(b"\r\n") == b".":
                        break
                    if raw.startswith(b".."):
                        raw = raw[1:]
                    data.append(raw)
                if any(r.lower().startswith("spam") for r in rcpts):
                    say("554 5.7.1 Message rejected as spam by content filter")
                    continue
                seq[0] += 1
                name = os.path.join(DIR, "%d-%03d.eml" % (int(time.time()), seq[0]))
                with open(name + ".tmp", "wb") as f:
                    f.write(b"X-Sink-Envelope: from=%s to=%s\r\n" % (
                        mail.encode(), ",".join(rcpts).encode()))
                    f.write(b"".join(data))
                os.rename(name + ".tmp", name)
                say("250 2.0.0 Ok: queued as S%d" % seq[0])
            elif cmd == "RSET":
                mail = None
                rcpts = []
                say("250 2.0.0 Ok")
            elif cmd == "NOOP":
                say("250 2.0.0 Ok")
            elif cmd == "QUIT":
                say("221 2.0.0 Bye")
                break
            else:
                say("502 5.5.2 Error: command not recognized")
            await writer.drain()
    except (asyncio.TimeoutError, ConnectionError):
        pass
    try:
        await writer.drain()
        writer.close()
    except ConnectionError:
        pass


async def reject(reader, writer):
    writer.write(b"554 5.7.1 sink.optgate.test: connection refused by policy\r\n")
    try:
        await asyncio.wait_for(reader.readline(), 10)
        writer.write(b"221 2.7.0 Bye\r\n")
        await writer.drain()
    except (asyncio.TimeoutError, ConnectionError):
        pass
    writer.close()


async def main():
    os.makedirs(DIR, exist_ok=True)
    srv = [await asyncio.start_server(session, "127.0.0.1", PORT)]
    if PORT_REJ:
        srv.append(await asyncio.start_server(reject, os.environ.get("REJ_HOST", "127.0.0.1"), PORT_REJ))
    await asyncio.sleep(7200)


asyncio.run(main())
