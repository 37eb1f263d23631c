-- 1,000 recipients in one (transactional) message: each decided, the
-- hard-bounced ones removed, the milter answers within the timeout.
dofile(TOP .. "/tests/milter/lib.lua")
mt.set_timeout(60)
local conn = mg_connect()
mg_mail(conn, "<alerts@example.com>")
for i = 1, 999 do
	check(mg_rcpt(conn, string.format("<user%04d@example.org>", i)) ==
	    SMFIR_CONTINUE, "rcpt " .. i)
end
check(mg_rcpt(conn, "<bounced@example.com>") == SMFIR_CONTINUE, "rcpt 1000")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "alerts"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "1,000-recipient message not accepted")
check(mt.eom_check(conn, MT_RCPTDELETE, "<bounced@example.com>"),
    "bounced recipient not removed")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<user0500@example.org>"),
    "good recipient removed")
-- one more is over the milter's limit: 452, never silently dropped
mg_mail(conn, "<alerts@example.com>")
for i = 1, 1000 do
	mg_rcpt(conn, string.format("<user%04d@example.org>", i))
end
check(mg_rcpt(conn, "<one-too-many@example.org>") == SMFIR_REPLYCODE,
    "recipient 1,001 not tempfailed")
mt.disconnect(conn)

-- sendmail(1) mail (port 0) is never refused at RCPT: past the limit the
-- stream message is refused at end of message, never sent unchecked.
conn = mg_connect("0")
mg_mail(conn, "alerts@example.com", "4QOVER0001")
for i = 1, 1001 do
	check(mg_rcpt(conn, string.format("user%04d@example.org", i)) ==
	    SMFIR_CONTINUE, "non-SMTP rcpt " .. i .. " refused at RCPT")
end
mg_headers(conn, std_headers({{"X-Optgate-Stream", "alerts"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE,
    "non-SMTP message over the limit not refused at end of message")
mt.disconnect(conn)
