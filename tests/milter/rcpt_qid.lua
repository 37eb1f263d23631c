-- Postfix opens the queue file only after the first recipient is
-- accepted (smtpd_delay_open_until_valid_rcpt = yes, its default), so
-- the first RCPT comes without {i}.  The decision of a recipient that
-- stays in the message is logged with the queue id once it is known (the
-- next RCPT, or end of message); an aborted transaction's, with NOQUEUE.
-- milter_miltertest.sh checks the log lines.
dofile(TOP .. "/tests/milter/lib.lua")
local function mail(conn)
	check(mt.mailfrom(conn, "<promo@example.com>") == nil, "mailfrom failed")
	check(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL not continued")
end
local conn = mg_connect()
-- {i} with the second RCPT, as Postfix sends it
mail(conn)
check(mg_rcpt(conn, "<qid@example.com>") == SMFIR_CONTINUE, "rcpt refused")
check(mt.macro(conn, SMFIC_RCPT, "i", "4QLATE0001") == nil, "macro")
check(mg_rcpt(conn, "<out@example.com>") == SMFIR_REPLYCODE,
    "unsubscribed recipient not refused")
check(mt.abort(conn) == nil, "abort failed")
-- {i} at end of message (miltertest cannot send end-of-message macros to
-- a milter that skips the body; libmilter finds RCPT's then)
mail(conn)
check(mg_rcpt(conn, "<qid2@example.com>") == SMFIR_CONTINUE, "rcpt refused")
check(mt.macro(conn, SMFIC_RCPT, "i", "4QLATE0002") == nil, "macro")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
-- aborted before any queue id: NOQUEUE
mail(conn)
check(mg_rcpt(conn, "<qid@example.com>") == SMFIR_CONTINUE, "rcpt refused")
check(mt.abort(conn) == nil, "abort failed")
mt.disconnect(conn)
