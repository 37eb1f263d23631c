-- Caps count accepted messages only: stream promo allows 1/1d.  The
-- first message to capped@ passes (and is counted at end of message),
-- an aborted one is not counted, the next is refused at RCPT.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<promo@example.com>")
check(mg_rcpt(conn, "<capped@example.com>") == SMFIR_CONTINUE, "first refused")
check(mt.abort(conn) == nil, "abort failed")
mg_mail(conn, "<promo@example.com>")
check(mg_rcpt(conn, "<capped@example.com>") == SMFIR_CONTINUE,
    "aborted transaction was counted")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_CONTINUE, "first message not accepted")
mg_mail(conn, "<promo@example.com>")
check(mg_rcpt(conn, "<capped@example.com>") ~= SMFIR_CONTINUE,
    "second message within the cap window not refused")
mt.disconnect(conn)
