-- A client that disconnects at every stage leaves the milter serving.
dofile(TOP .. "/tests/milter/lib.lua")
local stages = {"connect", "mail", "rcpt", "header", "eoh"}
for _, stage in ipairs(stages) do
	local conn = mg_connect()
	if stage ~= "connect" then mg_mail(conn, "<news@example.com>") end
	if stage ~= "connect" and stage ~= "mail" then
		mg_rcpt(conn, "<ok@example.com>")
	end
	if stage == "header" or stage == "eoh" then
		mt.header(conn, "X-Optgate-Stream", "newsletter")
	end
	if stage == "eoh" and not mt.test_option(conn, SMFIP_NOEOH) then
		mt.eoh(conn)
	end
	mt.disconnect(conn, false)
end
-- still serving:
local conn = mg_connect()
mg_mail(conn, "<news@example.com>")
check(mg_rcpt(conn, "<ok@example.com>") == SMFIR_CONTINUE, "rcpt")
mg_headers(conn, std_headers({{"X-Optgate-Stream", "newsletter"}}))
check(mg_eom(conn) == SMFIR_CONTINUE, "milter not serving after disconnects")
check(mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe"), "no List-Unsubscribe")
mt.disconnect(conn)
