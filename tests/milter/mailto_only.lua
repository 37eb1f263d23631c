-- A stream whose only unsubscribe target is mailto: List-Unsubscribe with
-- the mailto URI, and no List-Unsubscribe-Post (RFC 8058 one-click is a
-- POST to an HTTPS URI the header must contain; here there is none).
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt refused")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "mailonly"},
    {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
local lu = mt.getheader(conn, "List-Unsubscribe", 0)
check(lu ~= nil and string.find(lu, "<mailto:unsub+", 1, true) == 1,
    "no mailto List-Unsubscribe: " .. (lu or "none"))
check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe-Post"),
    "List-Unsubscribe-Post without an HTTPS URI to POST to")
check(mt.eom_check(conn, MT_HDRDELETE, "List-Unsubscribe-Post"),
    "sender's List-Unsubscribe-Post kept beside our List-Unsubscribe")
mt.disconnect(conn)
