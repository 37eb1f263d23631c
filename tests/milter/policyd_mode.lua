-- [milter] policyd = yes: streams found without headers are decided and
-- counted by optgate-policyd, so the milter neither refuses nor counts
-- them (it still adds the headers); header streams it still decides.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
for i = 1, 2 do
	mg_mail(conn, "<promo@example.com>")
	check(mg_rcpt(conn, "<capped2@example.com>") == SMFIR_CONTINUE,
	    "milter refused an envelope-stream recipient (message " .. i .. ")")
	mg_headers(conn, std_headers())
	check(mg_eom(conn) == SMFIR_CONTINUE, "not accepted " .. i)
	check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
	    "no List-Unsubscribe " .. i)
end
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<out@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE, "header stream not decided by the milter")
mt.disconnect(conn)
