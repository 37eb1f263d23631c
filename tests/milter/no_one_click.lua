-- A stream (-D STREAM=...) whose List-Unsubscribe would hold an https:
-- URI beside an http: one, or two https: ones: RFC 8058 3.1 allows
-- List-Unsubscribe-Post only with exactly one HTTPS URI and no other
-- HTTP(S) one, so the header carries the targets and no
-- List-Unsubscribe-Post is claimed (the sender's copy is removed).
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt refused")
mg_headers(conn, std_headers({{"X-Optgate-Stream", STREAM},
    {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
local lu = mt.getheader(conn, "List-Unsubscribe", 0)
check(lu ~= nil and string.find(lu, "<https://unsub.example.com/u/", 1,
    true) == 1, "List-Unsubscribe without its https: URI first: " ..
    (lu or "none"))
check(not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe-Post"),
    "List-Unsubscribe-Post beside a header RFC 8058 does not allow it for: "
    .. (lu or "none"))
check(mt.eom_check(conn, MT_HDRDELETE, "List-Unsubscribe-Post"),
    "sender's List-Unsubscribe-Post kept beside our List-Unsubscribe")
mt.disconnect(conn)
