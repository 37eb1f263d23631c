-- lib.lua - helpers for optgate-milter's miltertest scripts.
-- Globals from miltertest -D: SOCK (milter socket), TOP (repo).
-- A script fails by calling error(); tests/integration/milter_miltertest.sh
-- turns each script's exit status into one TAP line.  Reply codes and
-- texts are checked in the milter's log and through real Postfix:
-- miltertest 2.11's eom_check(MT_SMTPREPLY) ends the script.

function check(cond, msg)
	if not cond then
		-- miltertest does not print the error itself
		mt.echo("FAIL: " .. msg)
		error(msg, 2)
	end
end

-- A new MTA connection.  port "0" is what Postfix's cleanup sends for
-- mail from sendmail(1)/pickup (non_smtpd_milters); anything else is an
-- SMTP client.
function mg_connect(port, addr, sasl)
	local conn = mt.connect(SOCK, 40, 0.05)
	check(conn ~= nil, "cannot connect to the milter at " .. SOCK)
	check(mt.negotiate(conn, nil, nil, nil) == nil, "negotiate failed")
	mt.macro(conn, SMFIC_CONNECT, "{client_port}", port or "40123",
	    "{client_addr}", addr or "127.0.0.1",
	    "{daemon_name}", "mta.optgate.test")
	check(mt.conninfo(conn, "client.example", addr or "127.0.0.1") == nil,
	    "conninfo failed")
	return conn
end

-- MAIL FROM with the queue id macro (Postfix sends {i} with MAIL once
-- the queue file exists).
function mg_mail(conn, from, qid, sasl)
	if sasl then
		mt.macro(conn, SMFIC_MAIL, "i", qid or "4QTEST0001",
		    "{auth_authen}", sasl)
	else
		mt.macro(conn, SMFIC_MAIL, "i", qid or "4QTEST0001")
	end
	check(mt.mailfrom(conn, from) == nil, "mailfrom failed")
	check(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL not continued")
end

function mg_rcpt(conn, to)
	check(mt.rcptto(conn, to) == nil, "rcptto failed")
	return mt.getreply(conn)
end

function mg_headers(conn, hdrs)
	for _, h in ipairs(hdrs) do
		check(mt.header(conn, h[1], h[2]) == nil,
		    "header " .. h[1] .. " failed")
	end
	-- miltertest's mt.eoh ends the script when the filter negotiated
	-- SMFIP_NOEOH (optgate-milter finds the stream at end of message).
	if not mt.test_option(conn, SMFIP_NOEOH) then
		check(mt.eoh(conn) == nil, "eoh failed")
	end
end

function mg_eom(conn, body)
	-- No body: the milter negotiated SMFIP_NOBODY, and miltertest's
	-- mt.bodystring ends the script when the filter skips bodies.
	check(mt.eom(conn) == nil, "eom failed")
	return mt.getreply(conn)
end

-- Standard headers of a small message plus extra ones.
function std_headers(extra)
	local h = {
		{"From", "News <news@example.com>"},
		{"To", "someone@example.net"},
		{"Subject", "November news"},
		{"Message-ID", "<m1@example.com>"},
	}
	for _, e in ipairs(extra or {}) do
		table.insert(h, e)
	end
	return h
end
