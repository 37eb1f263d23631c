-- A recipient given twice in one message is delivered once (Postfix's
-- cleanup drops the copy), so it is counted once: stream weekly allows
-- 2/7d, and after a message with dup@ twice one more message passes.
-- weekly's sender rule comes after header rules, so it is decided at end
-- of message.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<weekly@example.com>")
check(mg_rcpt(conn, "<dup@example.com>") == SMFIR_CONTINUE, "rcpt refused")
check(mg_rcpt(conn, "<dup@example.com>") == SMFIR_CONTINUE,
    "repeated rcpt refused")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_CONTINUE, "first message not accepted")
mg_mail(conn, "<weekly@example.com>")
check(mg_rcpt(conn, "<dup@example.com>") == SMFIR_CONTINUE, "rcpt refused")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_CONTINUE,
    "second message refused: the repeated recipient was counted twice")
mg_mail(conn, "<weekly@example.com>")
check(mg_rcpt(conn, "<dup@example.com>") == SMFIR_CONTINUE, "rcpt refused")
mg_headers(conn, std_headers())
check(mg_eom(conn) ~= SMFIR_CONTINUE, "third message within 2/7d accepted")
mt.disconnect(conn)
