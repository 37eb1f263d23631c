-- A cap held by a message in flight, met at end of message: mail from
-- sendmail(1) (connect port 0) is decided there, so the deferral of its
-- recipient tempfails the whole message.  milter_miltertest.sh checks
-- that the log says so for the recipient and for the message.
dofile(TOP .. "/tests/milter/lib.lua")
local c1, c2 = mg_connect(), mg_connect("0")
mg_mail(c1, "<promo@example.com>", "4QPAR00011")
check(mg_rcpt(c1, "<par2@example.com>") == SMFIR_CONTINUE,
    "first message in flight refused")
mg_mail(c2, "promo@example.com", "4QPAR00012")
check(mg_rcpt(c2, "par2@example.com") == SMFIR_CONTINUE,
    "non-SMTP recipient refused at RCPT")
mg_headers(c2, std_headers())
check(mg_eom(c2) == SMFIR_REPLYCODE,
    "message with a held cap not tempfailed at end of message")
check(mt.abort(c1) == nil, "abort failed")
mt.disconnect(c1)
mt.disconnect(c2)
