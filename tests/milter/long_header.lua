-- Long headers (and a List-Id that long) are handled: the stream is
-- still found from the other header, no crash, and the long List-Id does
-- not match any stream by accident.  miltertest itself overflows a stack
-- buffer on headers over ~2,000 bytes, so the 10,000-character header
-- of issue 6 goes through real Postfix (milter_postfix.sh); here 1,000.
dofile(TOP .. "/tests/milter/lib.lua")
local long = string.rep("x", 1000)
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Long", long}, {"List-Id", long},
    {"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "not accepted")
check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
mt.disconnect(conn)
