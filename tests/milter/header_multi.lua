-- A list stream recognised only by header with two recipients: 550 5.5.3
-- (tokens are per recipient, headers per message), nothing dropped.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt 1")
check(mg_rcpt(conn, "<ok2@example.com>") == SMFIR_CONTINUE, "rcpt 2")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE, "not rejected")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<ok@example.com>") and
    not mt.eom_check(conn, MT_RCPTDELETE, "<ok2@example.com>"),
    "a recipient was dropped")
mt.disconnect(conn)
