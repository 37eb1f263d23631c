-- One person named twice in a list stream's message is one recipient:
-- Postfix's cleanup drops an exact repeat, and <OK@x> reaches the same
-- mailbox as <ok@x> (the same match key, so the same token).  A header
-- list stream passes with its headers (not 550 5.5.3 "this one has 2"),
-- an envelope one accepts the repeat at RCPT (a 452 would make the
-- client send the person a second copy in a new transaction).
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>", "4QDUP00001")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt 1")
check(mg_rcpt(conn, "<OK@example.com>") == SMFIR_CONTINUE, "rcpt 2")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_CONTINUE,
    "header list stream, one person named twice: not accepted")
check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
check(mt.eom_check(conn, MT_HDRADD, "X-Optgate-Token"), "no token header")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<ok@example.com>") and
    not mt.eom_check(conn, MT_RCPTDELETE, "<OK@example.com>"),
    "a recipient was removed")
mt.echo("DUPTOKEN " .. (mt.getheader(conn, "X-Optgate-Token", 0) or ""))

mg_mail(conn, "<promo@example.com>", "4QDUP00002")
check(mg_rcpt(conn, "<twice@example.com>") == SMFIR_CONTINUE, "rcpt 1")
check(mg_rcpt(conn, "<twice@example.com>") == SMFIR_CONTINUE,
    "envelope list stream: the same person again refused at RCPT (452)")
check(mg_rcpt(conn, "<ok2@example.com>") == SMFIR_REPLYCODE,
    "a second person not refused at RCPT (452)")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_CONTINUE, "envelope list stream: not accepted")
check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
mt.disconnect(conn)
