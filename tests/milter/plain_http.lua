-- A stream whose web target is plain http: (no https:): RFC 8058 3.1
-- lets a receiver POST only to an HTTPS URI of List-Unsubscribe, so the
-- header carries both URIs (the http: one first, as a web link) and no
-- List-Unsubscribe-Post is claimed; the sender's copy is removed.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt refused")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "plainhttp"},
    {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
local lu = mt.getheader(conn, "List-Unsubscribe", 0)
check(lu ~= nil and string.find(lu, "<mailto:unsub+", 1, true) ~= nil and
    string.find(lu, "<http://unsub.example.com/u/", 1, true) ~= nil,
    "List-Unsubscribe without both URIs: " .. (lu or "none"))
check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe-Post"),
    "List-Unsubscribe-Post with only an http: URI (RFC 8058 needs HTTPS)")
check(mt.eom_check(conn, MT_HDRDELETE, "List-Unsubscribe-Post"),
    "sender's List-Unsubscribe-Post kept beside our List-Unsubscribe")
mt.disconnect(conn)
