-- existing = replace (newsletter): the sender's two List-Unsubscribe
-- headers and its List-Unsubscribe-Post are removed, ours added, and a
-- forged X-Optgate-Token removed.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({
    {"List-Unsubscribe", "<https://old.example/1>"},
    {"X-Optgate-Stream", "newsletter"},
    {"List-Unsubscribe", "<mailto:old@example.com>"},
    {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
    {"X-Optgate-Token", "forged"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "not accepted")
check(mt.eom_check(conn, MT_HDRDELETE, "List-Unsubscribe"),
    "old List-Unsubscribe not removed")
check(mt.eom_check(conn, MT_HDRDELETE, "List-Unsubscribe-Post"),
    "old List-Unsubscribe-Post not removed")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Optgate-Token"),
    "forged token header not removed")
local lu = mt.getheader(conn, "List-Unsubscribe", 0)
check(lu ~= nil and string.find(lu, "unsub.example.com", 1, true),
    "our List-Unsubscribe not added")
check(mt.getheader(conn, "X-Optgate-Token", 0) ~= "forged", "forged token kept")
mt.disconnect(conn)
