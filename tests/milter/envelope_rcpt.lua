-- A stream known from the envelope sender is decided at RCPT: the
-- unsubscribed recipient is refused there, the first good one passes,
-- a second good one gets 452 4.5.3 (one recipient per transaction).
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<promo@example.com>")
check(mg_rcpt(conn, "<out@example.com>") == SMFIR_REPLYCODE,
    "unsubscribed recipient not refused at RCPT")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE,
    "good recipient refused")
check(mg_rcpt(conn, "<ok2@example.com>") == SMFIR_REPLYCODE,
    "second recipient of a list stream not refused (452)")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<ok@example.com>"),
    "recipient removed at EOM")
mt.disconnect(conn)
