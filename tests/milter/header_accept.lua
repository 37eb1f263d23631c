-- A header-matched list stream, one consenting recipient: the message
-- passes with List-Unsubscribe (HTTPS first, then mailto, the same
-- token), List-Unsubscribe-Post, our token header, Feedback-ID, and the
-- internal stream header removed.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt refused")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "message not accepted")
check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe-Post",
    "List-Unsubscribe=One-Click"), "no List-Unsubscribe-Post")
check(mt.eom_check(conn, MT_HDRADD, "X-Optgate-Token"), "no token header")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Optgate-Stream"),
    "stream header not removed")
check(mt.eom_check(conn, MT_HDRADD, "Feedback-ID"), "no Feedback-ID")
local lu = mt.getheader(conn, "List-Unsubscribe", 0)
local tok = mt.getheader(conn, "X-Optgate-Token", 0)
check(lu ~= nil and tok ~= nil, "header values missing")
local https = string.find(lu, "<https://unsub.example.com/u/" .. tok .. ">", 1, true)
local mailto = string.find(lu, "<mailto:unsub+" .. tok .. "@example.com>", 1, true)
check(https ~= nil, "https URI with the token missing: " .. lu)
check(mailto ~= nil, "mailto URI with the token missing: " .. lu)
check(https < mailto, "mailto before https: " .. lu)
-- folded: no line over 998, the two URIs on their own lines when long
check(string.find(lu, ",\n\t<mailto:", 1, true) ~= nil or #lu < 60,
    "long List-Unsubscribe not folded: " .. lu)
check(not string.find(lu, "ok@example.com", 1, true), "address readable in URL")
mt.echo("TOKEN " .. tok)
mt.echo("FBID " .. (mt.getheader(conn, "Feedback-ID", 0) or ""))
mt.disconnect(conn)
