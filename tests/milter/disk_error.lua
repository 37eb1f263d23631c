-- One message of a marketing stream (counted at end of message) from
-- news@example.com to RCPT: passes RCPT and end of message.  Used by
-- tests/integration/store_disk_error.sh, before and after a disk error.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<" .. RCPT .. ">") == SMFIR_CONTINUE,
    "RCPT not continued")
mg_headers(conn, std_headers())
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
mt.disconnect(conn)
