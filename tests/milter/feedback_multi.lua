-- Feedback-ID names the stream, not a recipient: a message of a stream
-- without tokens (transactional receipts, feedback_id = %s:tx) to two
-- recipients gets it too, with [milter] feedback_id_sender last; no
-- token or List-Unsubscribe (none configured).  A sender's own
-- Feedback-ID is kept and no second one added.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<shop@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt 1")
check(mg_rcpt(conn, "<none@example.com>") == SMFIR_CONTINUE, "rcpt 2")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "receipts"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
check(mt.eom_check(conn, MT_HDRADD, "Feedback-ID", "receipts:tx:example"),
    "no Feedback-ID on a message with two recipients: " ..
    (mt.getheader(conn, "Feedback-ID", 0) or "none"))
check(not mt.eom_check(conn, MT_HDRADD, "X-Optgate-Token"), "token added")
check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "List-Unsubscribe added")
mg_mail(conn, "<shop@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "receipts"},
    {"Feedback-ID", "own:1:shop"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
check(not mt.eom_check(conn, MT_HDRADD, "Feedback-ID"),
    "a second Feedback-ID beside the sender's")
mt.disconnect(conn)
