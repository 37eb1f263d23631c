-- existing = keep (stream digest, matched by List-Id): the sender's own
-- List-Unsubscribe stays and none is added; our token header still is.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<digest@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({
    {"List-Id", "Weekly digest <digest.example.com>"},
    {"List-Unsubscribe", "<https://sender.example/unsub>"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "not accepted")
check(not mt.eom_check(conn, MT_HDRDELETE, "List-Unsubscribe"),
    "sender's List-Unsubscribe removed")
check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "List-Unsubscribe added although the sender has one")
check(mt.eom_check(conn, MT_HDRADD, "X-Optgate-Token"), "no token header")
mt.disconnect(conn)
