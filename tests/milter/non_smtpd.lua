-- Mail from sendmail(1)/pickup (connect port 0): never refused at RCPT,
-- even for an envelope stream; the refused recipient is removed at end
-- of message as given (Postfix passes it without <>).
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect("0")
mg_mail(conn, "promo@example.com")
check(mg_rcpt(conn, "out@example.com") == SMFIR_CONTINUE,
    "non-SMTP recipient refused at RCPT")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_REPLYCODE,
    "all recipients refused, message not rejected at end of message")
mt.disconnect(conn)

conn = mg_connect("0")
mg_mail(conn, "alerts@example.com")
check(mg_rcpt(conn, "bounced@example.com") == SMFIR_CONTINUE, "rcpt 1")
check(mg_rcpt(conn, "ok@example.com") == SMFIR_CONTINUE, "rcpt 2")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "alerts"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
check(mt.eom_check(conn, MT_RCPTDELETE, "bounced@example.com"),
    "refused recipient not removed as given")
mt.disconnect(conn)
