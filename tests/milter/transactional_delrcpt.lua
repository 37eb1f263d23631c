-- A transactional header stream with three recipients: the hard-bounced
-- one is removed with smfi_delrcpt, the address exactly as given; the
-- one without consent stays (transactional skips consent); no
-- List-Unsubscribe (no unsubscribe targets, several recipients).
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<alerts@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt 1")
check(mg_rcpt(conn, "<Bounced@Example.COM>") == SMFIR_CONTINUE, "rcpt 2")
check(mg_rcpt(conn, "<none@example.com>") == SMFIR_CONTINUE, "rcpt 3")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "alerts"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
check(mt.eom_check(conn, MT_RCPTDELETE, "<Bounced@Example.COM>"),
    "bounced recipient not removed as given")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<none@example.com>"),
    "transactional recipient without consent removed")
check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"),
    "List-Unsubscribe on a multi-recipient transactional message")
mt.disconnect(conn)
