-- SMTPUTF8 local parts, IDN domains and 8-bit garbage: decided without a
-- crash; the UTF-8 address with consent passes with a token, the IDN
-- domain given in Unicode matches its A-label record, and an invalid
-- 8-bit address is refused (invalid), never accepted.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>", "4QUTF80001")
check(mg_rcpt(conn, "<josé@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "UTF-8 address with consent refused")
check(mt.eom_check(conn, MT_HDRADD, "X-Optgate-Token"), "no token")
mg_mail(conn, "<news@example.com>", "4QIDN00001")
check(mg_rcpt(conn, "<kunde@bücher.example>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "IDN address with consent refused")
mg_mail(conn, "<news@example.com>", "4QBAD00001")
check(mg_rcpt(conn, "<bad\255\254@exa mple>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE, "invalid address accepted")
mt.disconnect(conn)
