-- A 10,000-character header (and a List-Id that long) is handled: the
-- stream is still found from the other header, no crash, and the long
-- List-Id does not match any stream by accident.
dofile(TOP .. "/tests/milter/lib.lua")
local long = string.rep("x", 10000)
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Long", long}, {"List-Id", long},
    {"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "not accepted")
check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
mt.disconnect(conn)
