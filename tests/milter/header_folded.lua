-- A header folded by the sender's software is the same header: the
-- digest stream's "List-Id: Weekly digest <digest.example.com>" folded
-- before the <...> part with a tab (Outlook's and many libraries' way),
-- an indent of spaces, or a space left before the line break, still
-- finds the stream, so a recipient without consent is refused, not sent
-- the mail ungated.
dofile(TOP .. "/tests/milter/lib.lua")
local folds = {"Weekly digest\r\n\t<digest.example.com>",
    "Weekly digest\n\t<digest.example.com>",
    "Weekly digest\n        <digest.example.com>",
    "Weekly digest \r\n <digest.example.com>"}
local conn = mg_connect()
for i, v in ipairs(folds) do
	mg_mail(conn, "<digest@example.com>", string.format("4QFOLD000%d", i))
	check(mg_rcpt(conn, "<out@example.com>") == SMFIR_CONTINUE, "rcpt")
	mg_headers(conn, std_headers({{"List-Id", v}}))
	check(mg_eom(conn) == SMFIR_REPLYCODE, string.format(
	    "folded List-Id %d (%q): stream not found, mail sent ungated",
	    i, v))
end
mg_mail(conn, "<digest@example.com>", "4QFOLD0009")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"List-Id", folds[1]}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "consenting recipient refused")
check(mt.eom_check(conn, MT_HDRADD, "X-Optgate-Token"),
    "folded List-Id: no token (the stream was not found)")
mt.disconnect(conn)
