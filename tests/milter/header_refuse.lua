-- Header-matched stream, the only recipient unsubscribed: the message is
-- rejected with the verdict's 5xx reply (stream refuse = reject), and
-- no header is added.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<out@example.com>") == SMFIR_CONTINUE,
    "header stream refused at RCPT (stream not known yet)")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
local r = mg_eom(conn)
check(r == SMFIR_REPLYCODE, "not rejected with a reply: " .. tostring(r))
check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "List-Unsubscribe added to a refused message")
mt.disconnect(conn)
