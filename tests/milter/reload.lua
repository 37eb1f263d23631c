-- After SIGHUP the new configuration's unsubscribe URL (-D URL=...) is
-- used by new connections.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "not accepted")
local lu = mt.getheader(conn, "List-Unsubscribe", 0) or ""
check(string.find(lu, URL, 1, true) ~= nil, "URL " .. URL .. " not in " .. lu)
mt.disconnect(conn)
