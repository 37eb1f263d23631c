-- The store cannot be read: marketing streams tempfail (at RCPT when the
-- stream is known then, else at end of message), a transactional stream
-- follows its on_store_error (accept here).
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<promo@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_REPLYCODE,
    "envelope marketing stream not tempfailed at RCPT")
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE, "marketing message not tempfailed")
mg_mail(conn, "<alerts@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "alerts"}}))
check(mg_eom(conn) == SMFIR_CONTINUE,
    "transactional stream (on_store_error = accept) not accepted")
mt.disconnect(conn)
