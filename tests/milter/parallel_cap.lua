-- Messages in parallel (one MTA connection each) to one recipient of
-- stream promo (caps = 1/1d, decided at RCPT): a recipient passed at RCPT
-- but not yet accepted holds a send, so a second message in flight is
-- deferred; an aborted message gives its hold back, an accepted one
-- turns it into a count.
dofile(TOP .. "/tests/milter/lib.lua")
local c1, c2 = mg_connect(), mg_connect()
local rcpt = "<par@example.com>"
mg_mail(c1, "<promo@example.com>", "4QPAR00001")
mg_mail(c2, "<promo@example.com>", "4QPAR00002")
check(mg_rcpt(c1, rcpt) == SMFIR_CONTINUE, "first message in flight refused")
check(mg_rcpt(c2, rcpt) == SMFIR_REPLYCODE,
    "second message while the first is in flight not deferred")
check(mt.abort(c1) == nil, "abort failed")
-- Neither the abort nor MAIL (SMFIP_NR_MAIL) is answered: a RCPT on c1
-- (no consent: refused) shows both were handled before c2 goes on.
mg_mail(c1, "<promo@example.com>", "4QPAR00003")
check(mg_rcpt(c1, "<sync@example.com>") == SMFIR_REPLYCODE,
    "a recipient without consent not refused")
check(mg_rcpt(c2, rcpt) == SMFIR_CONTINUE,
    "the message in flight aborted: still refused")
mg_headers(c2, std_headers())
check(mg_eom(c2) == SMFIR_CONTINUE, "message not accepted")
check(mg_rcpt(c1, rcpt) == SMFIR_REPLYCODE,
    "one accepted: the next not refused by 1/1d")
mt.disconnect(c1)
mt.disconnect(c2)
