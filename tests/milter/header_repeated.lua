-- A header named more than once finds the stream when any copy matches,
-- not only the first: tag headers are repeated by design (a campaign
-- tool writes one line per tag), and a List-Id of an upstream list can
-- come before the one of ours.  With only the first copy looked at, the
-- digest stream's mail went out ungated: an opted-out recipient got it,
-- with no decision logged.
dofile(TOP .. "/tests/milter/lib.lua")
local conn = mg_connect()
-- out@ has opted out of everything: refused once the stream is found.
mg_mail(conn, "<digest@example.com>", "4QREPT0001")
check(mg_rcpt(conn, "<out@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({
    {"List-Id", "Upstream list <upstream.example.org>"},
    {"List-Id", "Weekly digest <digest.example.com>"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE,
    "second List-Id copy not used: stream not found, mail sent ungated")
-- A consenting recipient gets the stream's headers.
mg_mail(conn, "<digest@example.com>", "4QREPT0002")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({
    {"List-Id", "Upstream list <upstream.example.org>"},
    {"List-Id", "Weekly digest <digest.example.com>"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "consenting recipient refused")
check(mt.eom_check(conn, MT_HDRADD, "X-Optgate-Token"),
    "second List-Id copy: no token (the stream was not found)")
-- Config order still decides between two streams the copies name:
-- newsletter comes before alerts, whichever copy is first.
mg_mail(conn, "<news@example.com>", "4QREPT0003")
check(mg_rcpt(conn, "<out@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({
    {"X-Optgate-Stream", "alerts"},
    {"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_REPLYCODE,
    "stream alerts (later in config order) chosen over newsletter")
mt.disconnect(conn)
