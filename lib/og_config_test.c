/*
 * og_config_test.c - the configuration: every kind of value, every kind
 * of mistake reported as FILE:LINE, stream matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "og_config.h"
#include "og_err.h"
#include "og_time.h"

struct ccase {
	const char *name;
	const char *text;
	const char *error; /* NULL: must load; else a substring of the error */
};

static const struct ccase cases[] = {
    {"empty file gives defaults", "", NULL},
    {"the README example",
        "[store]\npath = /var/lib/optgate            ; folder\n"
        "map_size = 4G\n[keys]\nfile = /etc/optgate/keys\n"
        "[address]\ngmail_dots = yes\n"
        "plus_tags = gmail.com, googlemail.com, outlook.com, hotmail.com\n"
        "                                   ; a comment line\n"
        "[stream newsletter]\nmatch = header:X-Optgate-Stream=newsletter\n"
        "match = sender:news@example.com\nclass = marketing\n"
        "consent = confirmed\npartner = acme\ncaps = 2/7d, 1/1d\n"
        "caps.segment.vip = 4/7d\nrefuse = reject\n"
        "unsubscribe = https://unsub.example.com/u/%t, "
        "mailto:unsub+%t@example.com\n"
        "[policyd]\nlisten = inet:127.0.0.1:10040\n"
        "[milter]\nsocket = inet:10041@127.0.0.1\n"
        "[unsubd]\nlisten = 127.0.0.1:8080\n",
        NULL},
    {"unknown section", "[nope]\nx = 1\n",
        "test.conf:1: [nope]: unknown "
        "section"},
    {"unknown empty section", "[store]\npath = /x\n[polcyd]\n",
        "test.conf:3: [polcyd]: unknown section"},
    {"unknown key", "[store]\npath = /x\nmapsize = 4G\n",
        "test.conf:3: [store] mapsize: unknown key"},
    {"bad size", "[store]\nmap_size = lots\n",
        "test.conf:2: [store] "
        "map_size: expected a size"},
    {"size too small", "[store]\nmap_size = 10K\n", "at least 1M"},
    {"bad bool", "[address]\ngmail_dots = perhaps\n",
        "test.conf:2: "
        "[address] gmail_dots: expected yes or no"},
    {"bad enum", "[stream s]\nclass = promo\n",
        "test.conf:2: [stream s] "
        "class: expected marketing | transactional, got \"promo\""},
    {"bad consent", "[stream s]\nconsent = maybe\n",
        "none | optin | "
        "confirmed"},
    {"bad refuse", "[stream s]\nrefuse = bounce\n", "reject | drop | defer"},
    {"caps without period", "[stream s]\ncaps = 2\n",
        "test.conf:2: "
        "[stream s] caps: expected caps"},
    {"caps with zero", "[stream s]\ncaps = 0/7d\n", "expected caps"},
    {"caps over the sends kept", "[stream s]\ncaps = 33/1d\n",
        "test.conf:2: [stream s] caps: expected caps such as \"2/7d, 1/1d\" "
        "(count/period: count 1 to 32"},
    {"segment caps over the sends kept",
        "[stream s]\ncaps.segment.vip = 50/1d\n", "(count 1 to 32)"},
    {"soft_bounce over the times kept", "[feedback]\nsoft_bounce = 40/14d\n",
        "[feedback] soft_bounce: expected caps"},
    {"caps period too short", "[stream s]\ncaps = 2/10s\n", "expected caps"},
    {"caps trailing comma", "[stream s]\ncaps = 2/7d,\n", "expected caps"},
    {"caps trailing comma, no continuation",
        "[stream s]\ncaps = 2/7d,\nclass = marketing\n",
        "test.conf:2: [stream s] caps: expected caps"},
    {"segment caps continued, trailing comma on the last line",
        "[stream s]\ncaps.segment.vip = 2/7d\n  1/1d,\n",
        "test.conf:3: [stream s] caps.segment.vip: expected caps such as "
        "\"4/7d\" (count 1 to 32), got \"2/7d, 1/1d,\""},
    {"caps continued, trailing comma on the last line",
        "[stream s]\ncaps = 2/7d,\n  1/1d,\n",
        "test.conf:3: [stream s] caps: expected caps such as \"2/7d, 1/1d\" "
        "(count/period: count 1 to 32, the sends kept per person; period "
        ">= 1m), got \"2/7d, 1/1d,\""},
    {"caps bad unit", "[stream s]\ncaps = 2/7y\n", "expected caps"},
    {"segment caps bad", "[stream s]\ncaps.segment.vip = x\n",
        "test.conf:2: [stream s] caps.segment.vip"},
    {"segment caps twice",
        "[stream s]\ncaps.segment.v = 1/1d\ncaps.segment.v = 2/1d\n",
        "test.conf:3: [stream s] caps.segment.v: given twice"},
    {"segment named twice in two cases (tags match without case)",
        "[stream s]\ncaps.segment.vip = 1/1d\ncaps.segment.VIP = 2/1d\n",
        "test.conf:3: [stream s] caps.segment.VIP: given twice"},
    {"key twice", "[stream s]\nclass = marketing\nclass = marketing\n",
        "test.conf:3: [stream s] class: given twice"},
    /* Only its continuation lines add to it, as to every key but the
     * README's list keys. */
    {"plus_tags twice",
        "[address]\nplus_tags = a.example,\n  b.example\n"
        "plus_tags = c.example\n",
        "test.conf:4: [address] plus_tags: given twice"},
    {"match without type", "[stream s]\nmatch = newsletter\n",
        "test.conf:2: [stream s] match: expected TYPE:VALUE"},
    {"match unknown type", "[stream s]\nmatch = subject:hi\n", "unknown type"},
    {"match header without value", "[stream s]\nmatch = header:List-Id\n",
        "header needs NAME=VALUE"},
    {"match bad cidr", "[stream s]\nmatch = client:10.0.0.0/33\n",
        "client needs an address or CIDR"},
    {"match sender without @", "[stream s]\nmatch = sender:news\n",
        "sender needs ADDR or @DOMAIN"},
    /* A line no envelope can meet: the stream's mail would go ungated. */
    {"match sender without a domain", "[stream s]\nmatch = sender:news@\n",
        "test.conf:2: [stream s] match: \"sender:news@\": \"\" is not a "
        "domain"},
    {"match sender @ alone", "[stream s]\nmatch = sender:@\n",
        "is not a domain"},
    {"match sender domain with an empty label",
        "[stream s]\nmatch = sender:news@example..com\n",
        "\"example..com\" is not a domain"},
    {"match sender domain with a leading dot",
        "[stream s]\nmatch = sender:@.example.com\n",
        "\".example.com\" is not a domain"},
    {"match sender single label or literal",
        "[stream s]\nmatch = sender:root@localhost\n"
        "match = sender:x@[192.0.2.1]\n",
        NULL},
    /* The first stream that matches wins: a line it covers is dead. */
    {"match shadowed by an earlier domain",
        "[stream all]\nmatch = sender:@example.com\n"
        "[stream news]\nmatch = sender:News@Example.COM.\n",
        "test.conf:4: [stream news] match: \"sender:News@example.com\" can "
        "never match: "
        "[stream all], earlier in the file, has \"sender:@example.com\""},
    {"match shadowed by the same sasl login",
        "[stream a]\nmatch = sasl:bob\n[stream b]\nmatch = sasl:BOB\n",
        "[stream b] match: \"sasl:BOB\" can never match"},
    {"match shadowed by a wider network",
        "[stream a]\nmatch = client:10.0.0.0/8\n"
        "[stream b]\nmatch = client:192.0.2.1\nmatch = client:10.1.2.0/24\n",
        "test.conf:5: [stream b] match: \"client:10.1.2.0/24\" can never "
        "match"},
    {"match shadowed by the same header",
        "[stream a]\nmatch = header:List-Id=<x.example>\n"
        "[stream b]\nmatch = header:list-id=<X.example>\n",
        "[stream b] match: \"header:list-id=<X.example>\" can never match"},
    {"narrower stream first is fine",
        "[stream news]\nmatch = sender:news@example.com\n"
        "match = client:10.1.2.0/24\n"
        "[stream all]\nmatch = sender:@example.com\n"
        "match = client:10.0.0.0/8\nmatch = client:10.1.3.0/24\n"
        "match = header:List-Id=<x.example>\nmatch = sasl:news\n",
        NULL},
    {"match error names the stream",
        "[stream news]\nmatch = client:10.0.0.0/33\n",
        "test.conf:2: [stream news] match: client needs"},
    {"unsubscribe without %t",
        "[stream s]\nunsubscribe = https://u.example/x\n", "has no %t"},
    {"mailto token run into its local part",
        "[stream s]\nunsubscribe = mailto:unsub-%t@u.example\n",
        "reads as part of the token"},
    {"verp token run into its local part",
        "[stream s]\nverp = bounce-%t@b.example\n",
        "reads as part of the token"},
    {"mailto token after an escaped '-'",
        "[stream s]\nunsubscribe = mailto:u@u.example?subject=x%2D%t\n",
        "reads as part of the token"},
    {"verp token run into the stream name",
        "[stream s]\nverp = b+%t%s@b.example\n", "reads as part of the token"},
    {"verp and mailto with the token apart",
        "[stream s]\nverp = bounce+%t@b.example\n"
        "unsubscribe = mailto:u+%t@u.example?subject=unsubscribe%20%t, "
        "https://u.example/u-%t\n",
        NULL},
    /* What goes into a header the milter writes must not break it. */
    {"unsubscribe with a space (a second URI)",
        "[stream s]\nunsubscribe = https://u.example/u/%t "
        "<https://evil.example/%t>\n",
        "test.conf:2: [stream s] unsubscribe: \"https://u.example/u/%t "
        "<https://evil.example/%t>\" has a space, which cannot be in a "
        "header's URI"},
    {"unsubscribe with a CR (a header of its own)",
        "[stream s]\nunsubscribe = https://u.example/u/%t\rBcc: "
        "x@evil.example\n",
        "has a control character (\\x0d)"},
    {"unsubscribe with an angle bracket",
        "[stream s]\nunsubscribe = https://u.example/u/%t>\n",
        "has '>', which cannot be in a header's URI"},
    {"unsubscribe with 8-bit text",
        "[stream s]\nunsubscribe = https://u.example/u/%t/\xc3\xa9\n",
        "has a non-ASCII byte"},
    {"verp with ESMTP parameters after it",
        "[stream s]\nverp = bounce+%t@b.example> NOTIFY=NEVER\n",
        "[stream s] verp: \"bounce+%t@b.example> NOTIFY=NEVER\" has '>'"},
    {"feedback_id with a CR", "[stream s]\nfeedback_id = a:%s\rX-Evil: 1\n",
        "[stream s] feedback_id: \"a:%s\\x0dX-Evil: 1\" has a control "
        "character"},
    {"feedback_id_sender with a CR",
        "[milter]\nfeedback_id_sender = esp\rX-Evil: 1\n",
        "[milter] feedback_id_sender: \"esp\\x0dX-Evil: 1\" has a control "
        "character"},
    {"unsubscribe bad scheme", "[stream s]\nunsubscribe = ftp://u.example/%t\n",
        "neither https:, http: nor mailto:"},
    /* A second section of a name was merged into the first, unseen. */
    {"stream section twice",
        "[stream a]\nmatch = sender:x@a.example\n[stream b]\n"
        "match = sender:y@b.example\n[stream a]\n"
        "match = sender:z@c.example\n",
        "test.conf:5: [stream a]: section given twice (first at line 1)"},
    {"stream section twice, spaced otherwise",
        "[stream a]\nclass = marketing\n[stream \t a]\n",
        "test.conf:3: [stream a]: section given twice (first at line 1)"},
    {"global section twice",
        "[unsubd]\nlisten = 127.0.0.1:8080\n[log]\nverbose = 0\n"
        "[unsubd]\nlisten = 127.0.0.1:8081\n",
        "test.conf:5: [unsubd]: section given twice (first at line 1)"},
    {"stream without name", "[stream]\nclass = marketing\n", "needs a name"},
    {"stream bad name", "[stream a/b]\nclass = marketing\n",
        "stream names are"},
    {"bad duration", "[policyd]\nidle_timeout = soon\n",
        "test.conf:2: [policyd] idle_timeout: expected a duration"},
    {"duration below its range", "[spf]\ntimeout = 0\n",
        "test.conf:2: [spf] timeout: 0 is out of range (1s to 5m)"},
    {"duration above its range", "[milter]\ntimeout = 2d\n",
        "test.conf:2: [milter] timeout: 2d is out of range (1s to 1d)"},
    {"int out of range", "[store]\nmax_readers = 3\n",
        "expected a number "
        "from 16"},
    {"bad mode", "[policyd]\nsocket_mode = rw\n", "octal mode"},
    {"set-id mode", "[policyd]\nsocket_mode = 4660\n", "at most 0777"},
    {"syntax error", "[store]\njust words\n", "test.conf:2: syntax error"},
    {"trusted proxy by name", "[unsubd]\ntrusted_proxy = localhost\n",
        "trusted_proxy: \"localhost\" is not an IP address"},
    {"trusted proxy range", "[unsubd]\ntrusted_proxy = 10.0.0.0/8\n",
        "trusted_proxy: \"10.0.0.0/8\" is not an IP address"},
    {"spf egress typo", "[spf]\negress = 203.0.113.500, 2001:db8::5\n",
        "test.conf:2: [spf] egress: \"203.0.113.500\" is not an IP address"},
    {"spf egress range", "[spf]\negress = 203.0.113.0/24\n",
        "[spf] egress: \"203.0.113.0/24\" is not an IP address"},
    /* unsubd speaks TLS only with both: one alone served plain HTTP. */
    {"tls_cert without tls_key", "[unsubd]\ntls_cert = /etc/optgate/u.crt\n",
        "test.conf:2: [unsubd] tls_cert: set without tls_key: TLS needs "
        "both"},
    {"tls_key without tls_cert", "[unsubd]\ntls_key = /etc/optgate/u.key\n",
        "[unsubd] tls_key: set without tls_cert"},
    {"tls_cert and tls_key",
        "[unsubd]\ntls_cert = /etc/optgate/u.crt\n"
        "tls_key = /etc/optgate/u.key\n",
        NULL},
    {"spf helo with a blank", "[spf]\nhelo = out example.com\n",
        "test.conf:2: [spf] helo: \"out example.com\" is not a host name"},
    {"spf helo not a host name", "[spf]\nhelo = -out.example.com\n",
        "test.conf:2: [spf] helo: \"-out.example.com\" is not a host name"},
    {"spf helo", "[spf]\nhelo = Out.Example.COM\n", NULL},
    {"spf helo address literal", "[spf]\nhelo = [203.0.113.5]\n", NULL},
    /* policyd refused it; config check said ok. */
    {"spf without egress", "[stream s]\nspf = reject\n",
        "test.conf:2: [stream s] spf = reject needs [spf] egress"},
    {"spf with egress", "[spf]\negress = 203.0.113.5\n[stream s]\nspf = warn\n",
        NULL},
    /* unsubd ignored a base_url it cannot use: links lost the path. */
    {"base_url without a scheme",
        "[unsubd]\nbase_url = www.example.com/optout\n",
        "test.conf:2: [unsubd] base_url: \"www.example.com/optout\" is not "
        "http(s)://HOST/PATH"},
    {"base_url with a query", "[unsubd]\nbase_url = https://e.example/o?x=1\n",
        "[unsubd] base_url"},
    {"base_url without a host", "[unsubd]\nbase_url = https:///optout\n",
        "[unsubd] base_url"},
    {"base_url as README writes it",
        "[unsubd]\nbase_url = https://www.example.com/optout\n", NULL},
    {"base_url without a path", "[unsubd]\nbase_url = https://u.example/\n",
        NULL},
    {"stream_header with a space", "[milter]\nstream_header = X Optgate\n",
        "test.conf:2: [milter] stream_header: \"X Optgate\" is not a header "
        "name"},
    {"stream_header with a colon",
        "[milter]\nstream_header = X-Optgate-Stream:\n",
        "is not a header name"},
    {"key before any section", "; comment\npath = /x\n[store]\n",
        "test.conf:2: path: key before any [section]"},
    {"second error line reported first error",
        "[store]\npath = /x\nbogus = 1\n[stream s]\nclass = x\n",
        "test.conf:3: [store] bogus"},
    {"long line refused",
        "[stream s]\nmatch = "
        "header:X-Very-Long=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "\n",
        "test.conf:2: line longer than"},
    {"continuation lines",
        "[policyd]\nlisten = inet:127.0.0.1:1\n"
        "  unix:/run/x\n",
        NULL},
    /* libinih reads it as a continuation; it was "unknown section". */
    {"continuation line starting with '['",
        "[unsubd]\nlisten = 127.0.0.1:8080\n    [::1]:8080\n"
        "[policyd]\n    [nope]\n",
        "test.conf:5: [nope]: unknown section"},
    /*
     * A README snippet pasted with its indentation: its lines became
     * words of the value above, and a file indented throughout loaded
     * as "ok (0 streams)".
     */
    {"indented section line after a key",
        "[store]\npath = /tmp/og/store\n    [keys]\n"
        "    file = /tmp/og/keys\n    [stream newsletter]\n"
        "    match = sender:news@example.com\n",
        "test.conf:3: indented line \"[keys]\" would continue the value "
        "of [store] path above it"},
    {"indented stream section after a key",
        "[store]\npath = /tmp/og/store\n  [stream news]   ; pasted\n",
        "test.conf:3: indented line \"[stream news]\" would continue"},
    {"indented key line after a key",
        "[unsubd]\nuser = optgate\n   listen = 127.0.0.1:8080\n",
        "test.conf:3: indented line \"listen = ...\" would continue the "
        "value of [unsubd] user above it"},
    {"indented segment caps after a key",
        "[stream s]\ndescription = News\n  caps.segment.vip = 4/7d\n",
        "test.conf:3: indented line \"caps.segment.vip = ...\""},
    {"continued values that only look like keys or sections",
        "[stream s]\ndescription = Weekly news, [all] of it\n"
        "    [in brief]\n    pros = cons\n"
        "match = header:X-A=b\n"
        "[unsubd]\nlisten = 127.0.0.1:8080\n    [::1]:8080\n",
        NULL},
    {"list continued after a comma",
        "[spf]\negress = 203.0.113.5,\n    2001:db8::5\n"
        "[stream s]\nunsubscribe = https://u.example/u/%t,\n"
        "    mailto:u+%t@u.example\n",
        NULL},
    /* A README snippet pasted into a section that has the line already. */
    {"listen given twice",
        "[unsubd]\nlisten = 127.0.0.1:8080\nlisten = 127.0.0.1:8080\n",
        "test.conf:3: [unsubd] listen: \"127.0.0.1:8080\" given twice"},
    {"unsubscribe target given twice",
        "[stream s]\nunsubscribe = https://u.example/u/%t\n"
        "unsubscribe = https://u.example/u/%t, mailto:u+%t@u.example\n",
        "test.conf:3: [stream s] unsubscribe: \"https://u.example/u/%t\" "
        "given twice"},
    {"empty item inside a list", "[spf]\negress = 203.0.113.5,, 2001:db8::5\n",
        "test.conf:2: [spf] egress: empty item in list"},
    {"continuation of a one-value key",
        "[stream s]\nclass = marketing\n  transactional\n",
        "test.conf:3: [stream s] class: given twice (an indented line"},
    {"continued caps over their limit",
        "[stream s]\ncaps = 1/1d, 2/2d, 3/3d, 4/4d\n"
        "  5/5d, 6/6d, 7/7d, 8/8d, 9/9d\n",
        "test.conf:3: [stream s] caps: expected caps"},
    {"transactional stream",
        "[stream r]\nclass = transactional\n"
        "on_store_error = accept\n",
        NULL},
    /* A marketing stream tempfails on a store error whatever it says. */
    {"on_store_error = accept on a marketing stream",
        "[stream m]\nconsent = none\non_store_error = accept\n",
        "test.conf:3: [stream m] on_store_error = accept: applies to class = "
        "transactional only"},
    {"on_store_error = tempfail on a marketing stream",
        "[stream m]\non_store_error = tempfail\n", NULL},
    /* unsubd dropped what it cannot put into a page, unsaid. */
    {"brand.color by name", "[stream m]\nbrand.color = green\n",
        "test.conf:2: [stream m] brand.color: \"green\" is not #rgb or "
        "#rrggbb"},
    {"brand.color too long", "[stream m]\nbrand.color = #1b5e2000\n",
        "is not #rgb or #rrggbb"},
    {"brand.logo over http",
        "[stream m]\nbrand.logo = http://s.example/l.png\n",
        "[stream m] brand.logo: \"http://s.example/l.png\" is not an "
        "https:// URL"},
    {"brand.logo with a quote",
        "[stream m]\nbrand.logo = https://s.example/l.png\"onload=x\n",
        "brand.logo"},
    {"brand as unsubd shows it",
        "[stream m]\nbrand.color = #1B5E20\nbrand.logo = /static/l.png\n"
        "brand.name = Loja\n[stream n]\nbrand.color = #fff\n"
        "brand.logo = https://s.example/l.png\n",
        NULL},
    {"transactional stream with VERP",
        "[stream r]\nclass = transactional\n"
        "verp = bounce+%t@b.example\n",
        NULL},
    {"unsubscribe link on a transactional stream",
        "[stream r]\nunsubscribe = https://u.example/u/%t\n"
        "class = transactional\n",
        "test.conf:2: [stream r] unsubscribe: class = transactional mail "
        "ignores "
        "opt-outs"},
    /* libinih drops what follows "]": the key was lost, unseen. */
    {"key after a section name", "[store] path = /x\n",
        "test.conf:1: [store]: \"path = /x\" after the section name"},
    {"stream key after its section name",
        "[stream a] class = transactional\nmatch = sender:a@x.example\n",
        "test.conf:1: [stream a]: \"class = transactional\" after the "
        "section name"},
    {"comments after section names",
        "[store] ; c\npath = /x\n[stream a]\t# c\nmatch = sasl:a\n", NULL},
    {"lines ended by CR only", "[store]\rpath = /x\r",
        "test.conf:1: [store]: a CR after the section name"},
    /* A UTF-8 BOM hid line 1 from the section checks. */
    {"BOM before an unknown section", "\xef\xbb\xbf[stroe]\npath = /x\n",
        "test.conf:1: [stroe]: unknown section"},
    {"BOM before a section given twice",
        "\xef\xbb\xbf[store]\npath = /x\n[store]\nmap_size = 1G\n",
        "test.conf:3: [store]: section given twice (first at line 1)"},
    {"BOM and CRLF line ends",
        "\xef\xbb\xbf[store]\r\npath = /x\r\n[address]\r\n"
        "plus_tags = a.example,\r\n  b.example ; c\r\n[stream a]\r\n"
        "match = sasl:a\r\ncaps = 2/7d\r\n  1/1d\r\n",
        NULL},
    /*
     * The daemons run in "/": a relative path checked ok where the admin
     * stood and named another file for them.
     */
    {"store path not a full path", "[store]\npath = var/optgate\n",
        "test.conf:2: [store] path: \"var/optgate\" is not a full path"},
    {"keys file not a full path", "[keys]\nfile = keys\n",
        "test.conf:2: [keys] file: \"keys\" is not a full path"},
    {"quarantine not a full path", "[feedback]\nquarantine = q\n",
        "test.conf:2: [feedback] quarantine: \"q\" is not a full path"},
    {"TLS files not full paths",
        "[unsubd]\ntls_key = /etc/k.pem\ntls_cert = c.pem\n",
        "test.conf:3: [unsubd] tls_cert: \"c.pem\" is not a full path"},
    {"milter socket as main.cf names it",
        "[milter]\nsocket = unix:optgate/milter.sock\n",
        "test.conf:2: [milter] socket: \"unix:optgate/milter.sock\": "
        "expected a full path (main.cf's unix:NAME is relative to "
        "Postfix's queue folder: here unix:/var/spool/postfix/NAME)"},
    {"policyd socket as main.cf names it",
        "[policyd]\nlisten = unix:private/optgate-policy\n",
        "test.conf:2: [policyd] listen: \"unix:private/optgate-policy\": "
        "expected a full path"},
    /* The CR hid an indented section line: words of the value above. */
    {"CRLF indented section line after a key",
        "[stream a]\r\nmatch = sasl:a\r\ndescription = News\r\n"
        "    [keys]\r\nfile = /x\r\n",
        "test.conf:4: indented line \"[keys]\" would continue the value of "
        "[stream a] description"},
    {"every section recognised",
        "[feedback]\ncomplaint_scope = sender\nhard_bounce_scope = all\n"
        "soft_bounce = 5/14d\nsoft_bounce_suppress = 30d\n"
        "trusted_reporters = fbl.example.net\n[log]\nverbose = 1\n"
        "[spf]\negress = 203.0.113.5, 2001:db8::5\ntimeout = 5s\n"
        "[unsubd]\nscope = all\nrate_limit = 60\n",
        NULL},
};

static void
run_case(void **state)
{
	const struct ccase *c = *state;
	og_config *cfg = NULL;
	char err[1024] = "";
	int rc;

	rc = og_config_parse_string(
	    c->text, "test.conf", &cfg, err, sizeof(err), NULL, NULL);
	if (c->error == NULL) {
		if (rc != 0)
			fail_msg("%s: unexpected error: %s", c->name, err);
		og_config_unref(cfg);
	} else {
		if (rc != OG_ECONFIG)
			fail_msg(
			    "%s: loaded, want error \"%s\"", c->name, c->error);
		if (strstr(err, c->error) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", c->name, err,
			    c->error);
	}
}

/* Trusted proxies are compared with the peer as inet_ntop writes it. */
static void
trusted_proxies(void **state)
{
	og_config *cfg;
	char err[512] = "";

	(void)state;
	if (og_config_parse_string("[unsubd]\n"
	                           "trusted_proxy = 0:0:0:0:0:0:0:1\n"
	                           "trusted_proxy = ::ffff:127.0.0.1\n",
	        "t", &cfg, err, sizeof(err), NULL, NULL) != 0)
		fail_msg("trusted_proxy refused: %s", err);
	assert_int_equal(cfg->nunsubd_trusted_proxy, 2);
	assert_string_equal(cfg->unsubd_trusted_proxy[0], "::1");
	assert_string_equal(cfg->unsubd_trusted_proxy[1], "127.0.0.1");
	og_config_unref(cfg);
}

/*
 * [unsubd] max_connections_per_client: not set is -1 (optgate-unsubd
 * takes a share of max_connections), 0 is no limit, a number is kept.
 */
static void
client_connections(void **state)
{
	static const struct {
		const char *text;
		int want; /* -2: refused */
	} cc[] = {
	    {"[unsubd]\n", -1},
	    {"[unsubd]\nmax_connections_per_client = 0\n", 0},
	    {"[unsubd]\nmax_connections_per_client = 25\n", 25},
	    {"[unsubd]\nmax_connections_per_client = -1\n", -2},
	    {"[unsubd]\nmax_connections_per_client = many\n", -2},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cc) / sizeof(cc[0]); i++) {
		og_config *cfg = NULL;
		char err[512] = "";
		int rc = og_config_parse_string(
		    cc[i].text, "t", &cfg, err, sizeof(err), NULL, NULL);

		if (cc[i].want == -2) {
			assert_int_not_equal(rc, 0);
			assert_non_null(
			    strstr(err, "max_connections_per_client"));
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu refused: %s", i, err);
		assert_int_equal(
		    cfg->unsubd_max_connections_per_client, cc[i].want);
		og_config_unref(cfg);
	}
}

/*
 * plus_tags domains as og_addr compares them (lowercase A-labels): one
 * written in Unicode strips the +tag of its addresses too, so that an
 * opt-out of ana@ stops mail to ana+promo@.
 */
static void
plus_tags_domains(void **state)
{
	og_config *cfg;
	og_addr a;
	char err[512] = "";
	const char *in = "Ana+Promo@b\xc3\xbc"
	                 "cher.example";

	(void)state;
	if (og_config_parse_string("[address]\n"
	                           "plus_tags = B\xc3\xbc"
	                           "cher.Example., Example.ORG\n",
	        "t", &cfg, err, sizeof(err), NULL, NULL) != 0)
		fail_msg("plus_tags refused: %s", err);
	assert_int_equal(cfg->nplus_tags, 2);
	assert_string_equal(cfg->plus_tags[0], "xn--bcher-kva.example");
	assert_string_equal(cfg->plus_tags[1], "example.org");
	assert_int_equal(og_addr_parse(in, strlen(in), &cfg->rules, &a), 0);
	assert_string_equal(a.key, "ana@xn--bcher-kva.example");
	og_config_unref(cfg);
	assert_int_equal(og_config_parse_string("[address]\n"
	                                        "plus_tags = example.org, "
	                                        "not a domain\n",
	                     "t", &cfg, err, sizeof(err), NULL, NULL),
	    OG_ECONFIG);
	assert_non_null(
	    strstr(err, "t:2: [address] plus_tags: \"not a domain\""));
}

/*
 * A comment after a continuation line is a comment, as after the first
 * line of the value (conf/optgate.conf ends its plus_tags so): kept, it
 * made "protonmail.com ; domains whose ..." a domain no address has.
 */
static void
continuation_comments(void **state)
{
	og_config *cfg;
	char err[512] = "";

	(void)state;
	if (og_config_parse_string("[address]\n"
	                           "plus_tags = a.example,\n"
	                           "    b.example    ; domains\n"
	                           "[feedback]\n"
	                           "trusted_reporters = x.example\n"
	                           "   y.example   ; and its ;-) comment\n"
	                           "[stream s]\n"
	                           "description = one\n"
	                           "   two;three    ; a comment\n"
	                           "caps = 2/7d\n"
	                           "  1/1d ; daily\n",
	        "t", &cfg, err, sizeof(err), NULL, NULL) != 0)
		fail_msg("continuation comments refused: %s", err);
	assert_int_equal(cfg->nplus_tags, 2);
	assert_string_equal(cfg->plus_tags[1], "b.example");
	assert_int_equal(cfg->ntrusted_reporters, 2);
	assert_string_equal(cfg->trusted_reporters[1], "y.example");
	assert_string_equal(cfg->streams[0].description, "one two;three");
	assert_int_equal(cfg->streams[0].ncaps, 2);
	og_config_unref(cfg);
}

/* "A long value continues on indented lines" (conf/optgate.conf). */
static void
continuations(void **state)
{
	og_config *cfg;
	const og_stream *s;
	char err[512] = "";

	(void)state;
	if (og_config_parse_string("[stream s]\n"
	                           "caps = 2/7d\n"
	                           "  1/1d\n"
	                           "description = Our weekly letter\n"
	                           "\tabout gardens\n"
	                           "brand.name = Example Gardens\n"
	                           "  and Sons\n",
	        "t", &cfg, err, sizeof(err), NULL, NULL) != 0)
		fail_msg("continuation lines refused: %s", err);
	s = og_config_stream(cfg, "s");
	assert_non_null(s);
	assert_int_equal(s->ncaps, 2);
	assert_int_equal(s->caps[0].limit, 2);
	assert_int_equal(s->caps[1].period, 86400);
	assert_string_equal(s->description, "Our weekly letter about gardens");
	assert_string_equal(s->brand_name, "Example Gardens and Sons");
	og_config_unref(cfg);
	/* caps continued as conf/optgate.conf continues plus_tags */
	if (og_config_parse_string("[stream s]\n"
	                           "caps = 2/7d,   ; a week\n"
	                           "  1/1d,\n"
	                           "  4/30d\n"
	                           "caps.segment.vip = 4/7d\n"
	                           "  1/1d\n"
	                           "caps.segment.new = 1/1d,\n"
	                           "  2/7d\n",
	        "t", &cfg, err, sizeof(err), NULL, NULL) != 0)
		fail_msg("caps continued after a comma refused: %s", err);
	s = og_config_stream(cfg, "s");
	assert_non_null(s);
	assert_int_equal(s->ncaps, 3);
	assert_int_equal(s->caps[1].period, 86400);
	assert_int_equal(s->caps[2].limit, 4);
	/* a segment's caps continue as the stream's do */
	assert_int_equal(s->nsegcaps, 2);
	assert_int_equal(s->segcaps[0].ncaps, 2);
	assert_int_equal(s->segcaps[0].caps[1].limit, 1);
	assert_int_equal(s->segcaps[1].ncaps, 2);
	assert_int_equal(s->segcaps[1].caps[1].period, 7 * 86400);
	og_config_unref(cfg);
	/* both styles in one list: a line without its comma, then one with */
	if (og_config_parse_string("[stream s]\n"
	                           "caps = 2/7d\n"
	                           "  1/1d,\n"
	                           "  4/30d\n",
	        "t", &cfg, err, sizeof(err), NULL, NULL) != 0)
		fail_msg(
		    "caps continued without, then with a comma refused: %s",
		    err);
	s = og_config_stream(cfg, "s");
	assert_non_null(s);
	assert_int_equal(s->ncaps, 3);
	assert_int_equal(s->caps[2].limit, 4);
	og_config_unref(cfg);
}

static void
values(void **state)
{
	og_config *cfg;
	const og_stream *s;
	char err[512];

	(void)state;
	assert_int_equal(og_config_parse_string(cases[1].text, "t", &cfg, err,
	                     sizeof(err), NULL, NULL),
	    0);
	assert_int_equal(cfg->map_size, 4ULL << 30);
	assert_int_equal(cfg->nplus_tags, 4);
	assert_string_equal(cfg->plus_tags[3], "hotmail.com");
	s = og_config_stream(cfg, "newsletter");
	assert_non_null(s);
	assert_int_equal(s->consent, OG_CONSENT_CONFIRMED);
	assert_int_equal(s->ncaps, 2);
	assert_int_equal(s->caps[0].limit, 2);
	assert_int_equal(s->caps[0].period, 7 * 86400);
	assert_int_equal(s->caps[1].period, 86400);
	assert_int_equal(s->nsegcaps, 1);
	assert_string_equal(s->segcaps[0].segment, "vip");
	assert_int_equal(s->segcaps[0].caps[0].limit, 4);
	assert_int_equal(s->nunsubscribe, 2);
	assert_string_equal(s->unsubscribe[1], "mailto:unsub+%t@example.com");
	assert_true(s->list);
	assert_string_equal(s->partner, "acme");
	assert_ptr_equal(og_config_stream_by_id(cfg, s->id), s);
	assert_int_equal(cfg->npolicyd_listen, 1);
	og_config_unref(og_config_ref(cfg));
	og_config_unref(cfg);
}

static const char *
hdr(void *ctx, const char *name)
{
	const char *const *h = ctx;

	for (; *h; h += 2)
		if (strcasecmp(h[0], name) == 0)
			return h[1];
	return NULL;
}

static void
matching(void **state)
{
	static const char *conf =
	    "[stream news]\nmatch = header:List-Id=<news.example.com>\n"
	    "[stream partner]\nmatch = sender:@partner.example\n"
	    "[stream app]\nmatch = sasl:appuser\nmatch = client:192.0.2.0/24\n"
	    "match = client:2001:db8::/32\n"
	    "[stream byheader]\nmatch = header:X-Optgate-Stream=promo\n"
	    "[stream idn]\nmatch = sender:news@xn--bcher-kva.example\n"
	    "[stream idn2]\nmatch = sender:@M\xc3\xbc"
	    "nchen.Example.\n";
	const char *h1[] = {"List-Id", "Our News <news.example.com>", NULL};
	const char *h2[] = {"X-Optgate-Stream", " PROMO ", NULL};
	og_msginfo mi;
	og_config *cfg;
	char err[256];
	const og_stream *s;

	(void)state;
	assert_int_equal(og_config_parse_string(
	                     conf, "t", &cfg, err, sizeof(err), NULL, NULL),
	    0);
	memset(&mi, 0, sizeof(mi));
	mi.header = hdr;
	mi.header_ctx = h1;
	s = og_config_find_stream(cfg, &mi);
	assert_non_null(s);
	assert_string_equal(s->name, "news");
	mi.header_ctx = h2;
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "byheader");
	mi.header = NULL;
	mi.sender = "Offers@Partner.Example";
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "partner");
	mi.sender = "x@other.example";
	assert_null(og_config_find_stream(cfg, &mi));
	/* a domain is one domain in Unicode, A-labels, any case */
	mi.sender = "news@B\xc3\xbc"
	            "cher.example";
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "idn");
	mi.sender = "NEWS@XN--BCHER-KVA.EXAMPLE";
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "idn");
	mi.sender = "other@b\xc3\xbc"
	            "cher.example";
	assert_null(og_config_find_stream(cfg, &mi));
	mi.sender = "x@xn--mnchen-3ya.example";
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "idn2");
	mi.sender = "x@other.example";
	mi.client_addr = "192.0.2.77";
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "app");
	mi.client_addr = "192.0.3.1";
	assert_null(og_config_find_stream(cfg, &mi));
	mi.client_addr = "2001:db8:1::5";
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "app");
	mi.client_addr = NULL;
	mi.sasl_user = "appuser";
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "app");
	mi.sasl_user = "AppUser";
	assert_string_equal(og_config_find_stream(cfg, &mi)->name, "app");
	mi.sasl_user = "appuser2";
	assert_null(og_config_find_stream(cfg, &mi));
	assert_true(og_stream_needs_headers(og_config_stream(cfg, "news")));
	assert_false(og_stream_needs_headers(og_config_stream(cfg, "app")));
	og_config_unref(cfg);
}

/*
 * A match line as an admin types or pastes it: a blank after "sender:"
 * or "sasl:", blanks around a header's '=', the sender as Postfix logs
 * it (from=<...>) or quoted.  Each meets the mail it names; each was a
 * line that loaded and matched nothing, so the stream's mail went out
 * ungated (no consent, no opt-out, no cap).
 */
static void
match_line_spelling(void **state)
{
	static const char *conf =
	    "[stream spaced]\nmatch = sender: spaced@example.com\n"
	    "[stream logged]\nmatch = sender:<logged@example.com>\n"
	    "[stream quoted]\nmatch = sender:\"quoted\"@example.com\n"
	    "[stream domain]\nmatch = sender:\t@domain.example\n"
	    "[stream app]\nmatch = sasl: appuser\n"
	    "[stream hdr]\nmatch = header:X-Optgate-Stream= digest\n";
	const char *h[] = {"X-Optgate-Stream", "digest", NULL};
	const char *senders[][2] = {{"spaced@example.com", "spaced"},
	    {"logged@example.com", "logged"}, {"quoted@example.com", "quoted"},
	    {"x@domain.example", "domain"}};
	og_msginfo mi;
	og_config *cfg;
	char err[256];
	const og_stream *s;
	size_t i;

	(void)state;
	if (og_config_parse_string(
	        conf, "t", &cfg, err, sizeof(err), NULL, NULL) != 0)
		fail_msg("does not load: %s", err);
	for (i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		memset(&mi, 0, sizeof(mi));
		mi.sender = senders[i][0];
		s = og_config_find_stream(cfg, &mi);
		if (s == NULL || strcmp(s->name, senders[i][1]) != 0)
			fail_msg("sender %s: stream %s, want %s", senders[i][0],
			    s ? s->name : "(none)", senders[i][1]);
	}
	memset(&mi, 0, sizeof(mi));
	mi.sasl_user = "appuser";
	s = og_config_find_stream(cfg, &mi);
	assert_non_null(s);
	assert_string_equal(s->name, "app");
	memset(&mi, 0, sizeof(mi));
	mi.header = hdr;
	mi.header_ctx = h;
	s = og_config_find_stream(cfg, &mi);
	assert_non_null(s);
	assert_string_equal(s->name, "hdr");
	assert_string_equal(
	    og_config_stream(cfg, "hdr")->match[0].name, "X-Optgate-Stream");
	og_config_unref(cfg);
	/* A sender line the envelope reading cannot take is an error. */
	assert_int_equal(
	    og_config_parse_string("[stream s]\n"
	                           "match = sender:<news@example.com\n",
	        "t", &cfg, err, sizeof(err), NULL, NULL),
	    OG_ECONFIG);
	assert_non_null(
	    strstr(err, "t:2: [stream s] match: "
	                "\"sender:<news@example.com\": not an address"));
}

static void
durations_and_times(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(og_duration_parse("30", 1000, &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(og_duration_parse("15m", 100000, &v), 0);
	assert_int_equal(v, 900);
	assert_int_equal(og_duration_parse("2w", 10000000, &v), 0);
	assert_int_equal(v, 14 * 86400);
	assert_int_equal(og_duration_parse("7d", 1000, &v), OG_EINVAL);
	assert_int_equal(og_duration_parse("-1d", 1000000, &v), OG_EINVAL);
	assert_int_equal(og_duration_parse("1dd", 1000000, &v), OG_EINVAL);
	assert_int_equal(og_time_parse_rfc3339("2026-11-02T10:00:00Z", &v), 0);
	assert_int_equal(v, 1793613600);
	assert_int_equal(
	    og_time_parse_rfc3339("2026-11-02T07:00:00-03:00", &v), 0);
	assert_int_equal(v, 1793613600);
	assert_int_equal(og_time_parse_rfc3339("2026-11-02", &v), 0);
	assert_int_equal(
	    og_time_parse_rfc3339("2026-02-29T00:00:00Z", &v), OG_EINVAL);
	assert_int_equal(
	    og_time_parse_rfc3339("2026-11-02T10:00:00", &v), OG_EINVAL);
	assert_int_equal(og_time_parse_rfc3339("yesterday", &v), OG_EINVAL);
}

/*
 * RFC 8058 3.1: List-Unsubscribe-Post only beside exactly one HTTPS URI
 * and no other HTTP(S) one.  Each config loads (daemons keep running);
 * why names what keeps one-click off, NULL when nothing to warn about.
 */
static void
one_click(void **state)
{
	static const struct {
		const char *name, *unsub;
		int ok;
		const char *why;
	} oc[] = {
	    {"https and mailto",
	        "https://u.example/u/%t, mailto:u+%t@x.example", 1, NULL},
	    {"https alone", "https://u.example/u/%t", 1, NULL},
	    {"https beside http",
	        "https://u.example/u/%t, http://u.example/u/%t", 0,
	        "an http: target beside the https: one"},
	    {"http, https, mailto",
	        "http://u.example/u/%t, mailto:u+%t@x.example, "
	        "https://u.example/u/%t",
	        0, "an http: target beside the https: one"},
	    {"two https", "https://u.example/u/%t, https://v.example/u/%t", 0,
	        "more than one https: target"},
	    {"plain http only", "http://u.example/u/%t, mailto:u+%t@x.example",
	        0, "only plain http: targets"},
	    {"mailto only", "mailto:u+%t@x.example", 0, NULL},
	    {"no unsubscribe line", NULL, 0, NULL},
	};
	char text[512], err[1024];
	const char *why;
	og_config *cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(oc) / sizeof(oc[0]); i++) {
		snprintf(text, sizeof(text),
		    "[stream s]\nmatch = sender:s@example.com\n%s%s\n",
		    oc[i].unsub ? "unsubscribe = " : "",
		    oc[i].unsub ? oc[i].unsub : "");
		cfg = NULL;
		err[0] = 0;
		if (og_config_parse_string(
		        text, "test.conf", &cfg, err, sizeof(err), NULL, NULL))
			fail_msg("%s: unexpected error: %s", oc[i].name, err);
		why = "unset";
		if (og_stream_one_click(&cfg->streams[0], &why) != oc[i].ok)
			fail_msg("%s: one-click %s", oc[i].name,
			    oc[i].ok ? "refused" : "allowed");
		if (oc[i].why == NULL ? why != NULL
		                      : why == NULL || !strstr(why, oc[i].why))
			fail_msg("%s: why \"%s\", want \"%s\"", oc[i].name,
			    why ? why : "(null)",
			    oc[i].why ? oc[i].why : "(null)");
		og_config_unref(cfg);
	}
}

/*
 * What loads (an existing config keeps loading) but is ignored: a
 * warning with FILE:LINE for config check and the daemons' logs.  want
 * NULL: no warning at all.
 */
static const struct wcase {
	const char *name, *text, *want;
} wcases[] = {
    {"caps on a transactional stream",
        "[stream r]\nmatch = sender:r@example.com\nclass = transactional\n"
        "caps = 1/1d\n",
        "test.conf:4: [stream r] caps: class = transactional streams skip "
        "caps: the line is ignored"},
    {"caps.segment on a transactional stream",
        "[stream r]\nmatch = sender:r@example.com\nclass = transactional\n"
        "caps.segment.vip = 4/7d\ncaps.segment.new = 1/1d\n",
        "test.conf:4: [stream r] caps.segment.vip: class = transactional "
        "streams skip caps: these lines are ignored"},
    {"caps on a marketing stream",
        "[stream m]\ncaps = 1/1d\ncaps.segment.vip = 4/7d\n", NULL},
    {"a transactional stream without caps",
        "[stream r]\nclass = transactional\n", NULL},
    /*
     * optgate-unsubd serves /u/TOKEN: a character next to the token there
     * makes every one-click a 400.  Other servers' forms stay quiet.
     */
    {"unsubd's /u/ with a character after the token",
        "[stream s]\nmatch = sender:s@example.com\n"
        "unsubscribe = https://u.example/u/%tx\n",
        "test.conf:3: [stream s] unsubscribe: \"https://u.example/u/%tx\": "
        "optgate-unsubd serves /u/TOKEN only"},
    {"unsubd's /u/ with a character before the token",
        "[stream s]\nunsubscribe = mailto:u+%t@u.example, "
        "https://u.example/u/x%t\n",
        "\"https://u.example/u/x%t\": optgate-unsubd serves /u/TOKEN only"},
    {"unsubd's /u/ under a prefix, with a suffix",
        "[stream s]\nunsubscribe = https://www.example.com/optout/u/%t.html\n",
        "optgate-unsubd serves /u/TOKEN only"},
    {"unsubd's /u/ with a path after the token",
        "[stream s]\nunsubscribe = https://u.example/u/%t/x\n",
        "optgate-unsubd serves /u/TOKEN only"},
    {"unsubd's /u/ under the stream name",
        "[stream s]\nunsubscribe = https://u.example/u/%s/%t\n",
        "optgate-unsubd serves /u/TOKEN only"},
    {"the forms unsubd takes, and other servers' forms",
        "[stream s]\nunsubscribe = https://u.example/u/%t, "
        "mailto:u+%t@u.example\n"
        "[stream t]\nunsubscribe = https://u.example/u/%t/\n"
        "[stream v]\nunsubscribe = https://u.example/u/%t?s=%s#x\n"
        "[stream w]\nunsubscribe = https://www.example.com/optout/u/%t\n"
        "[stream x]\nunsubscribe = https://u.example/u-%t\n"
        "[stream y]\nunsubscribe = https://u.example/unsub?t=%tx&u=/u/\n"
        "[stream z]\nunsubscribe = https://u.example/uu/%tx\n"
        "[stream q]\nunsubscribe = https://u.example?r=/u/%tx\n",
        NULL},
};

static void
run_wcase(void **state)
{
	const struct wcase *c = *state;
	og_config *cfg = NULL;
	char err[1024] = "", all[4096] = "";
	size_t n = 0;
	int i;

	if (og_config_parse_string(
	        c->text, "test.conf", &cfg, err, sizeof(err), NULL, NULL))
		fail_msg("%s: does not load: %s", c->name, err);
	for (i = 0; i < cfg->nwarnings && n < sizeof(all); i++)
		n += (size_t)snprintf(
		    all + n, sizeof(all) - n, "%s\n", cfg->warnings[i]);
	og_config_unref(cfg);
	if (c->want == NULL ? n != 0 : strstr(all, c->want) == NULL)
		fail_msg("%s: warnings \"%s\", want \"%s\"", c->name, all,
		    c->want ? c->want : "(none)");
}

int
main(void)
{
	enum {
		N = sizeof(cases) / sizeof(cases[0]),
		W = sizeof(wcases) / sizeof(wcases[0])
	};
	struct CMUnitTest t[N + W + 10];
	size_t i;

	for (i = 0; i < N; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].name = cases[i].name;
		t[i].test_func = run_case;
		t[i].initial_state = (void *)&cases[i];
	}
	memset(&t[N], 0, 10 * sizeof(t[0]));
	t[N].name = "values";
	t[N].test_func = values;
	t[N + 1].name = "stream matching";
	t[N + 1].test_func = matching;
	t[N + 2].name = "durations and RFC 3339 times";
	t[N + 2].test_func = durations_and_times;
	t[N + 3].name = "continuation lines";
	t[N + 3].test_func = continuations;
	t[N + 4].name = "trusted proxies";
	t[N + 4].test_func = trusted_proxies;
	t[N + 5].name = "plus_tags domains";
	t[N + 5].test_func = plus_tags_domains;
	t[N + 6].name = "comments after continuation lines";
	t[N + 6].test_func = continuation_comments;
	t[N + 7].name = "one-click (RFC 8058) only with one https: target";
	t[N + 7].test_func = one_click;
	t[N + 8].name = "[unsubd] max_connections_per_client";
	t[N + 8].test_func = client_connections;
	t[N + 9].name = "match lines with blanks, <> or quotes";
	t[N + 9].test_func = match_line_spelling;
	for (i = 0; i < W; i++) {
		memset(&t[N + 10 + i], 0, sizeof(t[0]));
		t[N + 10 + i].name = wcases[i].name;
		t[N + 10 + i].test_func = run_wcase;
		t[N + 10 + i].initial_state = (void *)&wcases[i];
	}
	return _cmocka_run_group_tests("og_config", t, N + W + 10, NULL, NULL);
}
