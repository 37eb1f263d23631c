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
-- An envelope stream after a header rule is not known at RCPT: policyd
-- answers DUNNO for it, so the milter decides it at end of message.
mg_mail(conn, "<late@example.com>")
check(mg_rcpt(conn, "<out@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_REPLYCODE,
    "envelope stream after a header rule not decided by the milter")
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<out@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE, "header stream not decided by the milter")
mt.disconnect(conn)

-- This config never refuses at RCPT (policyd does), so RCPT needs no
-- reply; past 1,000 recipients the stream message is refused at end of
-- message instead of at RCPT.
conn = mg_connect()
check(mt.test_option(conn, SMFIP_NR_RCPT), "RCPT replies not turned off")
mg_mail(conn, "<alerts@example.com>", "4QOVER0002")
for i = 1, 1001 do
	check(mg_rcpt(conn, string.format("<user%04d@example.org>", i)) ==
	    SMFIR_CONTINUE, "rcpt " .. i)
end
mg_headers(conn, std_headers({{"X-Optgate-Stream", "alerts"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE,
    "message over the limit not refused at end of message")
mt.disconnect(conn)
