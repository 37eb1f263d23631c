/*
 * og_gate_test.c - the decision, rule by rule, as a table.
 *
 * Each case builds a fresh store from a few changes, then asks the gate
 * about one recipient of one stream at one time and checks the action,
 * the rule, the reply code and a piece of the reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h> /* only to forge counters an older optgate wrote */

#include "og_addr.h"
#include "og_config.h"
#include "og_err.h"
#include "og_gate.h"
#include "og_store.h"
#include "og_time.h"

#define DAY 86400
#define T0 1800000000LL /* 2027-01-15 */

static const char *conf = "[stream news]\n"
                          "match = sender:news@example.com\n"
                          "consent = confirmed\n"
                          "sender = example.com\n"
                          "caps = 2/7d, 1/1d\n"
                          "caps.segment.vip = 4/7d\n"
                          "caps.segment.fragile = 1/30d\n"
                          "[stream offers]\n"
                          "match = sender:offers@example.com\n"
                          "consent = optin\n"
                          "partner = acme\n"
                          "sender = example.com\n"
                          "[stream resets]\n"
                          "match = sender:noreply@example.com\n"
                          "class = transactional\n"
                          "caps = 1/1d\n"
                          "[stream slow]\n"
                          "match = sender:slow@example.com\n"
                          "consent = none\n"
                          "caps = 1/1d\n"
                          "refuse = defer\n"
                          "[stream quiet]\n"
                          "match = sender:quiet@example.com\n"
                          "consent = optin\n"
                          "refuse = drop\n"
                          "[stream other]\n"
                          "match = sender:x@other.example\n"
                          "consent = none\n"
                          "[stream deals]\n"
                          "match = sender:deals@example.com\n"
                          "consent = confirmed\n"
                          "partner = acme\n";

/* One setup step. */
struct step {
	int kind; /* OG_EV_*; 0 ends; 99 = count a send; 98 = erase */
	int scope;
	const char *name;
	int state, reason;
	int64_t at;      /* relative to T0 */
	int64_t expires; /* relative to T0, 0 never */
	const char *segments;
	const char *stream; /* for 99 */
};

struct gcase {
	const char *name;
	struct step steps[8];
	const char *stream;
	const char *rcpt;
	int64_t at;
	int action;
	const char *rule;
	int code;
	const char *reason_part;
};

/* A case with another envelope sender than news@example.com. */
struct scase {
	struct gcase c;
	const char *sender;
};

/* A case with sends held by other transactions (og_gate_held_check). */
struct hcase {
	struct gcase c;
	int held;
};

#define OPTIN(sc, n, stt, t)                                                   \
	{                                                                      \
		OG_EV_OPTIN, sc, n, stt, 0, t, 0, NULL, NULL                   \
	}
#define OPTOUT(sc, n, t)                                                       \
	{                                                                      \
		OG_EV_OPTOUT, sc, n, 0, 0, t, 0, NULL, NULL                    \
	}
#define SUPP(sc, n, r, t, x)                                                   \
	{                                                                      \
		OG_EV_SUPPRESS, sc, n, 0, r, t, x, NULL, NULL                  \
	}
#define SEG(s, t)                                                              \
	{                                                                      \
		OG_EV_SEGMENT, 0, NULL, 0, 0, t, 0, s, NULL                    \
	}
#define PREF(n, t)                                                             \
	{                                                                      \
		OG_EV_PREF, OG_SCOPE_STREAM, n, 0, 0, t, 0, NULL, NULL         \
	}
#define SEND(s, t)                                                             \
	{                                                                      \
		99, 0, NULL, 0, 0, t, 0, NULL, s                               \
	}
#define ERASE(t)                                                               \
	{                                                                      \
		98, 0, NULL, 0, 0, t, 0, NULL, NULL                            \
	}
#define CONF(n) OPTIN(OG_SCOPE_STREAM, n, OG_ST_CONFIRMED, -10 * DAY)
#define R OG_REFUSE
#define A OG_ACCEPT

static const struct gcase cases[] = {
    {"no record, confirmed stream", {{0}}, "news", "a@x.example", 0, R,
        "no-consent", 550, "no-consent(news)"},
    {"confirmed opt-in passes", {CONF("news")}, "news", "a@x.example", 0, A,
        "ok", 250, ""},
    {"pending double opt-in is not consent",
        {OPTIN(OG_SCOPE_STREAM, "news", OG_ST_PENDING, -DAY)}, "news",
        "a@x.example", 0, R, "pending", 550, "pending(news)"},
    {"single opt-in not enough for confirmed stream",
        {OPTIN(OG_SCOPE_STREAM, "news", OG_ST_OPTIN, -DAY)}, "news",
        "a@x.example", 0, R, "no-consent", 550, "single-optin-only"},
    {"single opt-in enough for optin stream",
        {OPTIN(OG_SCOPE_STREAM, "offers", OG_ST_OPTIN, -DAY)}, "offers",
        "a@x.example", 0, A, "ok", 250, ""},
    {"opt-in to another stream is not consent", {CONF("offers")}, "news",
        "a@x.example", 0, R, "no-consent", 550, ""},
    {"partner-scope opt-in is consent for the partner's stream",
        {OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_OPTIN, -DAY)}, "offers",
        "a@x.example", 0, A, "ok", 250, ""},
    {"stream opt-out", {CONF("news"), OPTOUT(OG_SCOPE_STREAM, "news", -DAY)},
        "news", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(stream:news)"},
    {"opt-out of all", {CONF("news"), OPTOUT(OG_SCOPE_ALL, NULL, -DAY)}, "news",
        "a@x.example", 0, R, "optout", 550, "unsubscribed(all)"},
    {"opt-out of the sender",
        {CONF("news"), OPTOUT(OG_SCOPE_SENDER, "example.com", -DAY)}, "news",
        "a@x.example", 0, R, "optout", 550, "unsubscribed(sender:example.com)"},
    {"opt-out of another sender does not apply",
        {CONF("news"), OPTOUT(OG_SCOPE_SENDER, "other.example", -DAY)}, "news",
        "a@x.example", 0, A, "ok", 250, ""},
    {"partner opt-out blocks the partner stream",
        {CONF("offers"), OPTOUT(OG_SCOPE_PARTNER, "acme", -DAY)}, "offers",
        "a@x.example", 0, R, "optout", 550, "unsubscribed(partner:acme)"},
    {"partner opt-out leaves the brand's own stream",
        {CONF("news"), OPTOUT(OG_SCOPE_PARTNER, "acme", -DAY)}, "news",
        "a@x.example", 0, A, "ok", 250, ""},
    {"newer stream opt-in lifts an older opt-out of all",
        {OPTOUT(OG_SCOPE_ALL, NULL, -20 * DAY), CONF("news")}, "news",
        "a@x.example", 0, A, "ok", 250, ""},
    {"an opt-out revokes older consent: a newer single opt-in lifts it "
     "but is not the confirmed opt-in the stream needs",
        {OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_CONFIRMED, -30 * DAY),
            OPTOUT(OG_SCOPE_ALL, NULL, -20 * DAY),
            OPTIN(OG_SCOPE_STREAM, "deals", OG_ST_OPTIN, -DAY)},
        "deals", "a@x.example", 0, R, "no-consent", 550, "single-optin-only"},
    {"an opt-out of the partner revokes its confirmed opt-in too",
        {OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_CONFIRMED, -30 * DAY),
            OPTOUT(OG_SCOPE_PARTNER, "acme", -20 * DAY),
            OPTIN(OG_SCOPE_STREAM, "deals", OG_ST_OPTIN, -DAY)},
        "deals", "a@x.example", 0, R, "no-consent", 550, "single-optin-only"},
    {"a confirmed opt-in after the opt-out is consent",
        {OPTIN(OG_SCOPE_STREAM, "deals", OG_ST_OPTIN, -30 * DAY),
            OPTOUT(OG_SCOPE_ALL, NULL, -20 * DAY),
            OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_CONFIRMED, -DAY)},
        "deals", "a@x.example", 0, A, "ok", 250, ""},
    {"a newer opt-in of the partner does not lift an older opt-out of one "
     "of its streams: the narrower stop stands",
        {OPTOUT(OG_SCOPE_STREAM, "deals", -20 * DAY),
            OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_CONFIRMED, -DAY)},
        "deals", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(stream:deals)"},
    {"... and lets the partner's other streams through",
        {OPTOUT(OG_SCOPE_STREAM, "deals", -20 * DAY),
            OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_CONFIRMED, -DAY)},
        "offers", "a@x.example", 0, A, "ok", 250, ""},
    {"consent given before a temporary opt-out that ended counts again",
        {OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_CONFIRMED, -30 * DAY),
            {OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, 0, -20 * DAY, -10 * DAY, NULL,
                NULL}},
        "deals", "a@x.example", 0, A, "ok", 250, ""},
    {"an opt-out of another partner leaves the consent",
        {OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_CONFIRMED, -30 * DAY),
            OPTOUT(OG_SCOPE_PARTNER, "zeta", -20 * DAY)},
        "deals", "a@x.example", 0, A, "ok", 250, ""},
    {"an ended temporary opt-out does not come back when another is lifted",
        {OPTOUT(OG_SCOPE_SENDER, "example.com", -40 * DAY), CONF("news"),
            {OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, 0, -5 * DAY, -2 * DAY, NULL,
                NULL}},
        "news", "a@x.example", 0, A, "ok", 250, ""},
    {"a temporary opt-out in force still holds when another is lifted",
        {OPTOUT(OG_SCOPE_SENDER, "example.com", -40 * DAY), CONF("news"),
            {OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, 0, -5 * DAY, 2 * DAY, NULL,
                NULL}},
        "news", "a@x.example", 0, R, "optout", 550, "unsubscribed(all)"},
    {"older opt-in does not lift an opt-out",
        {CONF("news"), OPTOUT(OG_SCOPE_ALL, NULL, -DAY)}, "news", "a@x.example",
        0, R, "optout", 550, ""},
    {"hard bounce",
        {CONF("news"), SUPP(OG_SCOPE_ALL, NULL, OG_RS_HARD_BOUNCE, -DAY, 0)},
        "news", "a@x.example", 0, R, "hard-bounce", 550, "hard-bounce(all)"},
    {"hard bounce stops transactional mail too",
        {SUPP(OG_SCOPE_ALL, NULL, OG_RS_HARD_BOUNCE, -DAY, 0)}, "resets",
        "a@x.example", 0, R, "hard-bounce", 550, ""},
    {"complaint on the sender",
        {CONF("news"),
            SUPP(OG_SCOPE_SENDER, "example.com", OG_RS_COMPLAINT, -DAY, 0)},
        "news", "a@x.example", 0, R, "complaint", 550,
        "complaint(sender:example.com)"},
    {"manual suppression stops transactional mail too",
        {SUPP(OG_SCOPE_ALL, NULL, OG_RS_MANUAL, -DAY, 0)}, "resets",
        "a@x.example", 0, R, "manual", 550, "manual(all)"},
    {"complaint does not stop transactional mail",
        {SUPP(OG_SCOPE_ALL, NULL, OG_RS_COMPLAINT, -DAY, 0)}, "resets",
        "a@x.example", 0, A, "ok", 250, ""},
    {"opt-out does not stop transactional mail",
        {OPTOUT(OG_SCOPE_ALL, NULL, -DAY)}, "resets", "a@x.example", 0, A, "ok",
        250, ""},
    {"transactional needs no consent", {{0}}, "resets", "a@x.example", 0, A,
        "ok", 250, ""},
    {"temporary suppression in force",
        {CONF("news"),
            SUPP(OG_SCOPE_ALL, NULL, OG_RS_SOFT_BOUNCE, -DAY, 5 * DAY)},
        "news", "a@x.example", 0, R, "soft-bounce", 550, "soft-bounce(all)"},
    {"expired temporary suppression no longer counts",
        {CONF("news"),
            SUPP(OG_SCOPE_ALL, NULL, OG_RS_MANUAL, -9 * DAY, -2 * DAY)},
        "news", "a@x.example", 0, A, "ok", 250, ""},
    {"hard bounce outranks an opt-out",
        {CONF("news"), OPTOUT(OG_SCOPE_ALL, NULL, -2 * DAY),
            SUPP(OG_SCOPE_ALL, NULL, OG_RS_HARD_BOUNCE, -DAY, 0)},
        "news", "a@x.example", 0, R, "hard-bounce", 550, ""},
    {"suppression beats a newer opt-in",
        {SUPP(OG_SCOPE_ALL, NULL, OG_RS_COMPLAINT, -20 * DAY, 0), CONF("news")},
        "news", "a@x.example", 0, R, "complaint", 550, ""},
    {"cap 1/1d reached", {CONF("news"), SEND("news", -3600)}, "news",
        "a@x.example", 0, R, "cap", 550, "cap(news) 1/1d"},
    {"cap 1/1d passes after a day", {CONF("news"), SEND("news", -DAY - 1)},
        "news", "a@x.example", 0, A, "ok", 250, ""},
    {"cap 2/7d reached",
        {CONF("news"), SEND("news", -3 * DAY), SEND("news", -2 * DAY)}, "news",
        "a@x.example", 0, R, "cap", 550, "cap(news) 2/7d"},
    {"cap 2/7d: next send allowed when the older send leaves the window",
        {CONF("news"), SEND("news", -3 * DAY), SEND("news", -2 * DAY)}, "news",
        "a@x.example", 0, R, "cap", 550,
        "cap(news) 2/7d next=2027-01-19T08:00:00Z"},
    {"cap 2/7d passes when the oldest leaves the window",
        {CONF("news"), SEND("news", -8 * DAY), SEND("news", -2 * DAY)}, "news",
        "a@x.example", 0, A, "ok", 250, ""},
    {"cap window: a send exactly one period ago has left it",
        {SEND("slow", -DAY)}, "slow", "a@x.example", 0, A, "ok", 250, ""},
    {"cap window: a send one second inside it counts", {SEND("slow", -DAY + 1)},
        "slow", "a@x.example", 0, R, "cap", 450, "next=2027-01-15T08:00:01Z"},
    {"a send stamped ahead of the clock counts, and next is after it",
        {SEND("slow", 2 * 3600)}, "slow", "a@x.example", 0, R, "cap", 450,
        "next=2027-01-16T10:00:00Z"},
    {"clock stepped back between two sends: next is after the newer",
        {SEND("slow", 2 * 3600), SEND("slow", -3600)}, "slow", "a@x.example", 0,
        R, "cap", 450, "next=2027-01-16T10:00:00Z"},
    {"segment caps replace the stream's",
        {CONF("news"), SEG("vip", -DAY), SEND("news", -4 * DAY),
            SEND("news", -3 * DAY), SEND("news", -2 * DAY)},
        "news", "a@x.example", 0, A, "ok", 250, ""},
    {"segment cap reached",
        {CONF("news"), SEG("vip", -DAY), SEND("news", -5 * DAY),
            SEND("news", -4 * DAY), SEND("news", -3 * DAY),
            SEND("news", -2 * DAY)},
        "news", "a@x.example", 0, R, "cap", 550, "4/7d"},
    {"several segments with caps: the config's first one decides",
        {CONF("news"), SEG("fragile,vip", -DAY), SEND("news", -4 * DAY),
            SEND("news", -3 * DAY), SEND("news", -2 * DAY)},
        "news", "a@x.example", 0, A, "ok", 250, ""},
    {"... whatever the order the tags were imported in",
        {CONF("news"), SEG("vip,fragile", -DAY), SEND("news", -4 * DAY),
            SEND("news", -3 * DAY), SEND("news", -2 * DAY)},
        "news", "a@x.example", 0, A, "ok", 250, ""},
    {"a tag with no caps here is passed over for the next",
        {CONF("news"), SEG("other,fragile", -DAY), SEND("news", -20 * DAY)},
        "news", "a@x.example", 0, R, "cap", 550, "1/30d"},
    {"a tag in another case is the segment (an import's \"Fragile\")",
        {CONF("news"), SEG("Fragile", -DAY), SEND("news", -20 * DAY)}, "news",
        "a@x.example", 0, R, "cap", 550, "1/30d"},
    {"sends of another stream do not count",
        {CONF("news"), SEND("offers", -3600)}, "news", "a@x.example", 0, A,
        "ok", 250, ""},
    {"person's own cap",
        {CONF("news"), PREF("news", -DAY), SEND("news", -6 * DAY)}, "news",
        "a@x.example", 0, R, "cap", 550, "pref"},
    {"cap with refuse = defer gives 450", {SEND("slow", -3600)}, "slow",
        "a@x.example", 0, R, "cap", 450, "cap(slow)"},
    {"refuse = drop gives 250", {{0}}, "quiet", "a@x.example", 0, R,
        "no-consent", 250, ""},
    {"invalid address", {{0}}, "news", "not-an-address", 0, R, "invalid", 550,
        "invalid-address"},
    {"match key: gmail dots and +tag", {OPTOUT(OG_SCOPE_ALL, NULL, -DAY)},
        "other", "A.N.A+promo@googlemail.com", 0, R, "optout", 550, ""},
    {"a double opt-in asked after an opt-out leaves the opt-out",
        {OPTOUT(OG_SCOPE_STREAM, "other", -2 * DAY),
            OPTIN(OG_SCOPE_STREAM, "other", OG_ST_PENDING, -DAY)},
        "other", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(stream:other)"},
    {"consent = none accepts strangers", {{0}}, "other", "a@x.example", 0, A,
        "ok", 250, ""},
    {"erased: not even transactional mail", {CONF("news"), ERASE(-5 * DAY)},
        "resets", "a@x.example", 0, R, "erased", 550, "erased(all)"},
    {"an opt-out after the erasure (old link): not recorded, still erased",
        {CONF("news"), ERASE(-5 * DAY), OPTOUT(OG_SCOPE_STREAM, "news", -DAY)},
        "resets", "a@x.example", 0, R, "erased", 550, "erased(all)"},
    {"a complaint after the erasure: not recorded, still erased",
        {CONF("news"), ERASE(-5 * DAY),
            SUPP(OG_SCOPE_SENDER, "elsewhere.example", OG_RS_COMPLAINT, -DAY,
                0)},
        "other", "a@x.example", 0, R, "erased", 550, "erased(all)"},
    {"a new opt-in after the erasure brings the person back",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, -DAY)},
        "news", "a@x.example", 0, A, "ok", 250, ""},
    {"a double opt-in asked after the erasure: its confirmation goes out",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_PENDING, -DAY)},
        "resets", "a@x.example", 0, A, "ok", 250, ""},
    {"a double opt-in only asked after the erasure: marketing stays stopped",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_PENDING, -DAY)},
        "other", "a@x.example", 0, R, "erased", 550, "erased(all)"},
    {"a single opt-in after the erasure: consent = none mail goes again",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "offers", OG_ST_OPTIN, -DAY)},
        "other", "a@x.example", 0, A, "ok", 250, ""},
    {"back by an opt-in, then unsubscribed from it: transactional mail goes",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, -3 * DAY),
            OPTOUT(OG_SCOPE_STREAM, "news", -DAY)},
        "resets", "a@x.example", 0, A, "ok", 250, ""},
    {"back by an opt-in, then unsubscribed from it: other streams' mail goes",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, -3 * DAY),
            OPTOUT(OG_SCOPE_STREAM, "news", -DAY)},
        "other", "a@x.example", 0, A, "ok", 250, ""},
    {"back by an opt-in, then unsubscribed from it: that stream says so",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, -3 * DAY),
            OPTOUT(OG_SCOPE_STREAM, "news", -DAY)},
        "news", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(stream:news)"},
    {"back by an opt-in, then paused: transactional mail goes",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, -3 * DAY),
            {OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, 0, -DAY, 5 * DAY, NULL,
                NULL}},
        "resets", "a@x.example", 0, A, "ok", 250, ""},
    {"back by an opt-in, then a complaint of its stream: transactional goes",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, -3 * DAY),
            SUPP(OG_SCOPE_STREAM, "news", OG_RS_COMPLAINT, -DAY, 0)},
        "resets", "a@x.example", 0, A, "ok", 250, ""},
    {"a double opt-in asked after the erasure, then unsubscribed: no "
     "marketing",
        {CONF("news"), ERASE(-5 * DAY),
            OPTIN(OG_SCOPE_STREAM, "news", OG_ST_PENDING, -3 * DAY),
            OPTOUT(OG_SCOPE_STREAM, "news", -DAY)},
        "other", "a@x.example", 0, R, "erased", 550, "erased(all)"},
    {"a temporary suppression ends at its exact end",
        {CONF("news"), SUPP(OG_SCOPE_ALL, NULL, OG_RS_MANUAL, -9 * DAY, DAY)},
        "news", "a@x.example", DAY, A, "ok", 250, ""},
    {"a temporary suppression holds until its last second",
        {CONF("news"), SUPP(OG_SCOPE_ALL, NULL, OG_RS_MANUAL, -9 * DAY, 1)},
        "news", "a@x.example", 0, R, "manual", 550, "manual(all)"},
    {"a temporary opt-out of all ends at its exact end",
        {CONF("news"), {OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, 0, -5 * DAY, DAY,
                           NULL, NULL}},
        "news", "a@x.example", DAY, A, "ok", 250, ""},
    {"a pause of the stream gives its consent back at its exact end",
        {CONF("news"), {OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, 0, -5 * DAY,
                           DAY, NULL, NULL}},
        "news", "a@x.example", DAY, A, "ok", 250, ""},
    {"a pause of the stream holds until its last second",
        {CONF("news"), {OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, 0, -5 * DAY,
                           DAY, NULL, NULL}},
        "news", "a@x.example", DAY - 1, R, "optout", 550,
        "unsubscribed(stream:news)"},
    {"a pause of a stream whose opt-in lifted an opt-out of all: the "
     "reason is the pause",
        {OPTOUT(OG_SCOPE_ALL, NULL, -20 * DAY), CONF("news"),
            {OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, 0, -DAY, 5 * DAY, NULL,
                NULL}},
        "news", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(stream:news)"},
    {"... and at its end the consent under it lifts the opt-out again",
        {OPTOUT(OG_SCOPE_ALL, NULL, -20 * DAY), CONF("news"),
            {OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, 0, -DAY, 5 * DAY, NULL,
                NULL}},
        "news", "a@x.example", 5 * DAY, A, "ok", 250, ""},
    {"a double opt-in confirmed during a pause of its stream: the pause "
     "holds",
        {OPTIN(OG_SCOPE_STREAM, "news", OG_ST_PENDING, -10 * DAY),
            {OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, 0, -5 * DAY, 5 * DAY,
                NULL, NULL},
            {OG_EV_CONFIRM, OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, 0, -DAY,
                0, NULL, NULL}},
        "news", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(stream:news)"},
    {"... for a stream without a consent rule too",
        {OPTIN(OG_SCOPE_STREAM, "other", OG_ST_PENDING, -10 * DAY),
            {OG_EV_OPTOUT, OG_SCOPE_STREAM, "other", 0, 0, -5 * DAY, 5 * DAY,
                NULL, NULL},
            {OG_EV_CONFIRM, OG_SCOPE_STREAM, "other", OG_ST_CONFIRMED, 0, -DAY,
                0, NULL, NULL}},
        "other", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(stream:other)"},
    {"... and is consent at its end",
        {OPTIN(OG_SCOPE_STREAM, "news", OG_ST_PENDING, -10 * DAY),
            {OG_EV_OPTOUT, OG_SCOPE_STREAM, "news", 0, 0, -5 * DAY, 5 * DAY,
                NULL, NULL},
            {OG_EV_CONFIRM, OG_SCOPE_STREAM, "news", OG_ST_CONFIRMED, 0, -DAY,
                0, NULL, NULL}},
        "news", "a@x.example", 5 * DAY, A, "ok", 250, ""},
    {"several caps reached: the reason names the one that holds longest",
        {CONF("news"), SEND("news", -3 * DAY), SEND("news", -7200)}, "news",
        "a@x.example", 0, R, "cap", 550,
        "cap(news) 2/7d next=2027-01-19T08:00:00Z"},
    {"an opt-in to one stream after an opt-out of all: not the others",
        {OPTOUT(OG_SCOPE_ALL, NULL, -20 * DAY), CONF("news")}, "other",
        "a@x.example", 0, R, "optout", 550, "unsubscribed(all)"},
    {"a partner opt-out stops each stream of the partner",
        {CONF("deals"), OPTOUT(OG_SCOPE_PARTNER, "acme", -DAY)}, "deals",
        "a@x.example", 0, R, "optout", 550, "unsubscribed(partner:acme)"},
    {"an opt-out of one partner stream leaves the partner's other one",
        {OPTIN(OG_SCOPE_PARTNER, "acme", OG_ST_CONFIRMED, -30 * DAY),
            OPTOUT(OG_SCOPE_STREAM, "offers", -DAY)},
        "deals", "a@x.example", 0, A, "ok", 250, ""},
    {"a sender opt-out stops each stream of the sender",
        {CONF("offers"), OPTOUT(OG_SCOPE_SENDER, "example.com", -DAY)},
        "offers", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(sender:example.com)"},
    {"a temporary manual suppression stops transactional mail",
        {SUPP(OG_SCOPE_ALL, NULL, OG_RS_MANUAL, -DAY, DAY)}, "resets",
        "a@x.example", 0, R, "manual", 550, "manual(all)"},
    {"a soft-bounce suppression does not stop transactional mail",
        {SUPP(OG_SCOPE_ALL, NULL, OG_RS_SOFT_BOUNCE, -DAY, 5 * DAY)}, "resets",
        "a@x.example", 0, A, "ok", 250, ""},
    {"transactional mail skips the caps", {SEND("resets", -3600)}, "resets",
        "a@x.example", 0, A, "ok", 250, ""},
    {"a pause of all over an opt-out of the stream: the reason is the "
     "opt-out for good, not the pause's end",
        {CONF("news"), OPTOUT(OG_SCOPE_STREAM, "news", -5 * DAY),
            {OG_EV_OPTOUT, OG_SCOPE_ALL, NULL, 0, 0, -DAY, 5 * DAY, NULL,
                NULL}},
        "news", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(stream:news) 2027-01-10"},
    {"a temporary hard bounce over a complaint for good: the reason is "
     "the complaint",
        {SUPP(OG_SCOPE_SENDER, "example.com", OG_RS_COMPLAINT, -5 * DAY, 0),
            SUPP(OG_SCOPE_ALL, NULL, OG_RS_HARD_BOUNCE, -DAY, 5 * DAY)},
        "news", "a@x.example", 0, R, "complaint", 550,
        "complaint(sender:example.com)"},
    {"two temporary stops: the reason is the one that ends last",
        {CONF("news"),
            SUPP(OG_SCOPE_ALL, NULL, OG_RS_HARD_BOUNCE, -DAY, 2 * DAY),
            SUPP(OG_SCOPE_SENDER, "example.com", OG_RS_MANUAL, -DAY, 9 * DAY)},
        "news", "a@x.example", 0, R, "manual", 550,
        "manual(sender:example.com)"},
    {"a lifted opt-out of all, a pause of the sender and an opt-out of the "
     "partner for good: the reason is the one for good",
        {OPTOUT(OG_SCOPE_ALL, NULL, -30 * DAY),
            OPTIN(OG_SCOPE_STREAM, "deals", OG_ST_CONFIRMED, -20 * DAY),
            {OG_EV_OPTOUT, OG_SCOPE_SENDER, "example.com", 0, 0, -2 * DAY,
                5 * DAY, NULL, NULL},
            OPTOUT(OG_SCOPE_PARTNER, "acme", -DAY)},
        "deals", "a@x.example", 0, R, "optout", 550,
        "unsubscribed(partner:acme)"},
};

static const struct scase scases[] = {
    {{"sender scope by the envelope's domain, whatever its case",
         {OPTOUT(OG_SCOPE_SENDER, "other.example", -DAY)}, "other",
         "a@x.example", 0, R, "optout", 550,
         "unsubscribed(sender:other.example)"},
        "X@Other.EXAMPLE"},
    {{"an IDN envelope sender names the A-label scope",
         {OPTOUT(OG_SCOPE_SENDER, "xn--bcher-kva.example", -DAY)}, "other",
         "a@x.example", 0, R, "optout", 550,
         "unsubscribed(sender:xn--bcher-kva.example)"},
        "news@B\xc3\xbc"
        "cher.example"},
    {{"a complaint about another sender domain does not apply",
         {SUPP(OG_SCOPE_SENDER, "xn--bcher-kva.example", OG_RS_COMPLAINT, -DAY,
             0)},
         "other", "a@x.example", 0, A, "ok", 250, ""},
        "x@other.example"},
    {{"the stream's sender key names the scope, not the envelope",
         {OPTOUT(OG_SCOPE_SENDER, "example.com", -DAY), CONF("news")}, "news",
         "a@x.example", 0, R, "optout", 550, ""},
        "bulk@mailer.example"},
};

static const struct hcase hcases[] = {
    {{"a send held by another transaction defers at the cap", {CONF("news")},
         "news", "a@x.example", 0, R, "cap", 450, "cap(news) 1/1d held=1"},
        1},
    {{"held and recorded sends add up", {CONF("news"), SEND("news", -3 * DAY)},
         "news", "a@x.example", 0, R, "cap", 450, "cap(news) 2/7d held=1"},
        1},
    {{"held sends under the cap pass", {CONF("news"), SEG("vip", -DAY)}, "news",
         "a@x.example", 0, A, "ok", 250, ""},
        3},
    {{"held sends reaching a segment's cap defer",
         {CONF("news"), SEG("vip", -DAY)}, "news", "a@x.example", 0, R, "cap",
         450, "4/7d"},
        4},
    {{"held sends leave a refusal as it was",
         {CONF("news"), OPTOUT(OG_SCOPE_ALL, NULL, -DAY)}, "news",
         "a@x.example", 0, R, "optout", 550, "unsubscribed(all)"},
        1},
};

static og_config *cfg;

static int
setup(void **state)
{
	char err[512];

	(void)state;
	if (og_config_parse_string(
	        conf, "test.conf", &cfg, err, sizeof(err), NULL, NULL) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	og_config_unref(cfg);
	return 0;
}

static void
run(const struct gcase *c, int held, const char *sender)
{
	char dir[] = "/tmp/og_gate_test.XXXXXX";
	char cmd[600], err[512];
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	og_rtxn *tx;
	og_verdict v;
	og_addr a;
	const og_stream *s;
	int i, rc, erased = 0;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	/* Steps need the address's key: only a case without steps may
	 * give an address that does not parse (the "invalid" verdict). */
	if (og_addr_parse(c->rcpt, strlen(c->rcpt), &cfg->rules, &a) != 0)
		assert_int_equal(c->steps[0].kind, 0);
	for (i = 0; c->steps[i].kind; i++) {
		const struct step *p = &c->steps[i];

		if (p->kind == 99) {
			const char *k = a.key;

			assert_int_equal(og_store_count_sends(
			                     st, &k, 1, p->stream, T0 + p->at),
			    0);
		} else if (p->kind == 98) {
			assert_int_equal(
			    og_store_erase(st, a.key, T0 + p->at, NULL, NULL),
			    0);
			erased = 1;
		} else {
			og_change ch;
			int res = -1;

			memset(&ch, 0, sizeof(ch));
			ch.key = a.key;
			ch.kind = (uint8_t)p->kind;
			ch.scope =
			    (uint8_t)(p->scope ? p->scope : OG_SCOPE_ALL);
			ch.name = p->name;
			ch.state = (uint8_t)p->state;
			ch.reason = (uint8_t)p->reason;
			ch.time = T0 + p->at;
			ch.expires = p->expires ? T0 + p->expires : 0;
			ch.segments = p->segments;
			if (p->kind == OG_EV_PREF) {
				ch.pref.limit = 1;
				ch.pref.period = 7 * DAY;
			}
			assert_int_equal(og_store_apply(st, &ch, 1, &res), 0);
			/* After an erasure only an opt-in makes a record. */
			assert_int_equal(res, erased && p->kind != OG_EV_OPTIN
			                          ? OG_SKIPPED_ERASED
			                          : OG_APPLIED);
			if (p->kind == OG_EV_OPTIN)
				erased = 0;
		}
	}
	s = og_config_stream(cfg, c->stream);
	assert_non_null(s);
	assert_int_equal(og_store_rbegin(st, &tx), 0);
	rc = og_gate_decide(cfg, tx, s, sender, c->rcpt, T0 + c->at, &v);
	if (held) {
		/* other transactions hold held sends */
		for (i = 0; i < held; i++)
			og_gate_hold(s->name, a.key, 1);
		(void)og_gate_held_check(
		    cfg, tx, s, sender, c->rcpt, T0 + c->at, 0, &v);
		for (i = 0; i < held; i++)
			og_gate_hold(s->name, a.key, -1);
	}
	og_store_rend(tx);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	assert_int_equal(rc, 0);
	if (v.action != c->action || strcmp(v.rule, c->rule) != 0 ||
	    v.code != c->code || strstr(v.reason, c->reason_part) == NULL)
		fail_msg(
		    "%s: got action=%d rule=%s code=%d reason=\"%s\" "
		    "text=\"%s\"; want action=%d rule=%s code=%d reason~\"%s\"",
		    c->name, v.action, v.rule, v.code, v.reason, v.text,
		    c->action, c->rule, c->code, c->reason_part);
}

static void
run_case(void **state)
{
	run(*state, 0, "news@example.com");
}

static void
run_sender(void **state)
{
	const struct scase *sc = *state;

	run(&sc->c, 0, sc->sender);
}

static void
run_held(void **state)
{
	const struct hcase *h = *state;

	run(&h->c, h->held, "news@example.com");
}

/*
 * Send times an older optgate wrote out of order (it put each new send
 * first, also after the clock stepped back): the cap still counts both
 * and says the next send goes after the newer one has left the window.
 */
static void
unordered_sends(void **state)
{
	char dir[] = "/tmp/og_gate_test.XXXXXX";
	char path[64], cmd[600], err[512];
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	og_rtxn *tx;
	og_verdict v;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, val;
	unsigned char kb[] = "Sa@x.example\0slow", vb[10];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	og_store_close(st);
	snprintf(path, sizeof(path), "%s/counters", dir);
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "main", 0, &dbi), 0);
	vb[0] = 1;
	vb[1] = 2;
	og_put_be32(vb + 2, (uint32_t)(T0 - 3600));     /* counted last */
	og_put_be32(vb + 6, (uint32_t)(T0 + 2 * 3600)); /* before the step */
	k.mv_data = kb;
	k.mv_size = sizeof(kb) - 1;
	val.mv_data = vb;
	val.mv_size = sizeof(vb);
	assert_int_equal(mdb_put(txn, dbi, &k, &val, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	o.flags = 0;
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(og_store_rbegin(st, &tx), 0);
	og_gate_decide(cfg, tx, og_config_stream(cfg, "slow"),
	    "slow@example.com", "a@x.example", T0, &v);
	og_store_rend(tx);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	assert_string_equal(v.rule, "cap");
	assert_non_null(strstr(v.reason, "next=2027-01-16T10:00:00Z"));
}

/*
 * One change for replies(): scope all unless name names a stream; it ends
 * at T0 + expires (0: never).
 */
static void
put_until(og_store *st, const char *key, int kind, int state, int reason,
    const char *stream, int64_t at, int64_t expires)
{
	og_change ch;
	int res = -1;

	memset(&ch, 0, sizeof(ch));
	ch.key = key;
	ch.kind = (uint8_t)kind;
	ch.scope = stream ? OG_SCOPE_STREAM : OG_SCOPE_ALL;
	ch.name = stream;
	ch.state = (uint8_t)state;
	ch.reason = (uint8_t)reason;
	ch.time = T0 + at;
	ch.expires = expires ? T0 + expires : 0;
	assert_int_equal(og_store_apply(st, &ch, 1, &res), 0);
	assert_int_equal(res, OG_APPLIED);
}

static void
put(og_store *st, const char *key, int kind, int state, int reason,
    const char *stream, int64_t at)
{
	put_until(st, key, kind, state, reason, stream, at, 0);
}

/*
 * What the sender's MTA is told: the reply code and enhanced status per
 * rule and per refuse action, and a text that names the record (the
 * opt-out's stream, date and way; the cap and when the next send goes).
 */
static void
replies(void **state)
{
	static const struct {
		const char *stream, *rcpt;
		int code;
		const char *dsn, *text;
	} want[] = {
	    {"news", "hb@x.example", 550, "5.1.1",
	        "<hb@x.example>: address hard-bounced on 2027-01-14; not "
	        "mailed again"},
	    {"slow", "hb@x.example", 450, "4.7.1", "hard-bounced"},
	    {"quiet", "hb@x.example", 250, "2.0.0", "hard-bounced"},
	    {"news", "no@@x.example", 550, "5.1.3", "invalid recipient"},
	    {"news", "out@x.example", 550, "5.7.1",
	        "<out@x.example>: unsubscribed from news on 2027-01-13 via "
	        "admin"},
	    {"slow", "cap@x.example", 450, "4.7.1",
	        "<cap@x.example>: frequency cap 1/1d for slow reached; next "
	        "send allowed from 2027-01-16T07:00:00Z"},
	    {"news", "new@x.example", 550, "5.7.1",
	        "<new@x.example>: no opt-in on record for news"},
	    /* temporary ones say until when */
	    {"news", "sus@x.example", 550, "5.7.1",
	        "<sus@x.example>: suppressed (manual) for all streams until "
	        "2027-01-20"},
	    {"news", "tmp@x.example", 550, "5.7.1",
	        "<tmp@x.example>: unsubscribed from news on 2027-01-14 via "
	        "admin until 2027-01-20"},
	    {"news", "all@x.example", 550, "5.7.1",
	        "<all@x.example>: unsubscribed from all streams on 2027-01-14 "
	        "via admin until 2027-01-20"},
	    /* a temporary hard bounce or complaint is not "for good" */
	    {"news", "thb@x.example", 550, "5.1.1",
	        "<thb@x.example>: address hard-bounced on 2027-01-14; not "
	        "mailed until 2027-01-20"},
	    {"news", "tcp@x.example", 550, "5.7.1",
	        "<tcp@x.example>: recipient complained about all streams on "
	        "2027-01-14; not mailed until 2027-01-20"},
	};
	/*
	 * A drop the daemon cannot do (optgate-policyd, a stream that is no
	 * list stream) made a rejection: the status refuse = reject gives.
	 */
	static const struct {
		const char *rcpt, *dsn, *text;
	} drop[] = {
	    {"hb@x.example", "5.1.1", "hard-bounced on 2027-01-14"},
	    {"no@@x.example", "5.1.3", "invalid recipient"},
	    {"new@x.example", "5.7.1", "no opt-in on record for quiet"},
	};
	char dir[] = "/tmp/og_gate_test.XXXXXX";
	char cmd[600], err[512];
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, NULL};
	const char *k = "cap@x.example";
	og_store *st;
	og_rtxn *tx;
	og_verdict v;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	put(st, "hb@x.example", OG_EV_SUPPRESS, OG_ST_SUPPRESSED,
	    OG_RS_HARD_BOUNCE, NULL, -DAY);
	put(st, "out@x.example", OG_EV_OPTIN, OG_ST_CONFIRMED, 0, "news",
	    -9 * DAY);
	put(st, "out@x.example", OG_EV_OPTOUT, OG_ST_OPTOUT, 0, "news",
	    -2 * DAY);
	put_until(st, "sus@x.example", OG_EV_SUPPRESS, OG_ST_SUPPRESSED,
	    OG_RS_MANUAL, NULL, -DAY, 5 * DAY);
	put(st, "tmp@x.example", OG_EV_OPTIN, OG_ST_CONFIRMED, 0, "news",
	    -9 * DAY);
	put_until(st, "tmp@x.example", OG_EV_OPTOUT, OG_ST_OPTOUT, 0, "news",
	    -DAY, 5 * DAY);
	put(st, "all@x.example", OG_EV_OPTIN, OG_ST_CONFIRMED, 0, "news",
	    -9 * DAY);
	put_until(st, "all@x.example", OG_EV_OPTOUT, OG_ST_OPTOUT, 0, NULL,
	    -DAY, 5 * DAY);
	put_until(st, "thb@x.example", OG_EV_SUPPRESS, OG_ST_SUPPRESSED,
	    OG_RS_HARD_BOUNCE, NULL, -DAY, 5 * DAY);
	put_until(st, "tcp@x.example", OG_EV_SUPPRESS, OG_ST_SUPPRESSED,
	    OG_RS_COMPLAINT, NULL, -DAY, 5 * DAY);
	assert_int_equal(og_store_count_sends(st, &k, 1, "slow", T0 - 3600), 0);
	assert_int_equal(og_store_rbegin(st, &tx), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		og_gate_decide(cfg, tx, og_config_stream(cfg, want[i].stream),
		    "news@example.com", want[i].rcpt, T0, &v);
		if (v.action != OG_REFUSE || v.code != want[i].code ||
		    strcmp(v.dsn, want[i].dsn) != 0 ||
		    strstr(v.text, want[i].text) == NULL)
			fail_msg("%s to %s: got %d %s \"%s\"; want %d %s "
			         "\"%s\"",
			    want[i].stream, want[i].rcpt, v.code, v.dsn, v.text,
			    want[i].code, want[i].dsn, want[i].text);
	}
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		og_gate_decide(cfg, tx, og_config_stream(cfg, "quiet"),
		    "quiet@example.com", drop[i].rcpt, T0, &v);
		assert_int_equal(v.refuse, OG_REFUSE_DROP);
		og_gate_reject(&v);
		if (v.action != OG_REFUSE || v.refuse != OG_REFUSE_REJECT ||
		    v.code != 550 || strcmp(v.dsn, drop[i].dsn) != 0 ||
		    strstr(v.text, drop[i].text) == NULL)
			fail_msg("quiet to %s, drop made a rejection: got %d "
			         "%s \"%s\"; want 550 %s \"%s\"",
			    drop[i].rcpt, v.code, v.dsn, v.text, drop[i].dsn,
			    drop[i].text);
	}
	og_store_rend(tx);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/*
 * The cap refusal's time is the first instant a send passes (a send
 * leaves the window at its exact end): one at the printed time passes, one
 * a second before is refused.  A sender that waits as told gets through.
 */
static void
cap_next_send(void **state)
{
	static const char *const streams[] = {"slow", "news"};
	char dir[] = "/tmp/og_gate_test.XXXXXX";
	char cmd[600], err[512], ts[32];
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, NULL};
	const char *k = "cap@x.example", *p;
	og_store *st;
	og_rtxn *tx;
	og_verdict v;
	int64_t when;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	put(st, k, OG_EV_OPTIN, OG_ST_CONFIRMED, 0, "news", -9 * DAY);
	assert_int_equal(og_store_count_sends(st, &k, 1, "slow", T0 - 3600), 0);
	assert_int_equal(og_store_count_sends(st, &k, 1, "news", T0 - 3600), 0);
	assert_int_equal(og_store_rbegin(st, &tx), 0);
	for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		og_gate_decide(cfg, tx, og_config_stream(cfg, streams[i]),
		    "news@example.com", k, T0, &v);
		assert_string_equal(v.rule, "cap");
		p = strstr(v.text, "next send allowed from ");
		if (p == NULL)
			fail_msg("%s: no 'allowed from' in \"%s\"", streams[i],
			    v.text);
		p += strlen("next send allowed from ");
		og_strlcpy(ts, p, sizeof(ts));
		assert_int_equal(og_time_parse_rfc3339(ts, &when), 0);
		assert_int_equal(when, v.next_allowed);
		og_gate_decide(cfg, tx, og_config_stream(cfg, streams[i]),
		    "news@example.com", k, when, &v);
		if (v.action != OG_ACCEPT)
			fail_msg("%s: a send at the printed %s is refused: %s",
			    streams[i], ts, v.text);
		og_gate_decide(cfg, tx, og_config_stream(cfg, streams[i]),
		    "news@example.com", k, when - 1, &v);
		if (v.action != OG_REFUSE || strcmp(v.rule, "cap") != 0)
			fail_msg("%s: a send a second before %s passes",
			    streams[i], ts);
	}
	og_store_rend(tx);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* og_store_erased, failing with fail_erased when it is set. */
int __real_og_store_erased(og_rtxn *tx, const char *key);
int __wrap_og_store_erased(og_rtxn *tx, const char *key);
static int fail_erased;

int
__wrap_og_store_erased(og_rtxn *tx, const char *key)
{
	return fail_erased ? fail_erased : __real_og_store_erased(tx, key);
}

/*
 * A read error while looking for an erasure: marketing tempfails, a
 * transactional stream follows on_store_error (tempfail by default).
 */
static void
erased_read_error(void **state)
{
	char dir[] = "/tmp/og_gate_test.XXXXXX";
	char cmd[600], err[512];
	og_store_opts o = {0, 0, 0, OG_STORE_CREATE, NULL};
	og_store *st;
	og_rtxn *tx;
	og_verdict v, w;
	int rc, rc2;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(og_store_open(dir, &o, &st, err, sizeof(err)), 0);
	assert_int_equal(og_store_rbegin(st, &tx), 0);
	fail_erased = OG_ECORRUPT;
	rc = og_gate_decide(cfg, tx, og_config_stream(cfg, "other"),
	    "x@other.example", "a@x.example", T0, &v);
	rc2 = og_gate_decide(cfg, tx, og_config_stream(cfg, "resets"),
	    "noreply@example.com", "a@x.example", T0, &w);
	fail_erased = 0;
	og_store_rend(tx);
	og_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	assert_int_equal(rc, OG_ECORRUPT);
	assert_int_equal(v.action, OG_TEMPFAIL);
	assert_int_equal(v.code, 451);
	assert_string_equal(v.rule, "store-error");
	assert_int_equal(rc2, OG_ECORRUPT);
	assert_int_equal(w.action, OG_TEMPFAIL);
}

/* A store error is never an accept for marketing mail. */
static void
store_error(void **state)
{
	og_verdict v;

	(void)state;
	assert_int_equal(
	    og_gate_decide(cfg, NULL, og_config_stream(cfg, "news"), NULL,
	        "a@x.example", T0, &v),
	    OG_ESTORE);
	assert_int_equal(v.action, OG_TEMPFAIL);
	assert_int_equal(v.code, 451);
	assert_string_equal(v.dsn, "4.3.0");
	og_gate_decide(cfg, NULL, og_config_stream(cfg, "resets"), NULL,
	    "a@x.example", T0, &v);
	assert_int_equal(v.action, OG_TEMPFAIL);
}

static void
transactional_accept_on_error(void **state)
{
	og_config *c2;
	og_verdict v;
	char err[256];

	(void)state;
	assert_int_equal(
	    og_config_parse_string("[stream r]\nclass = "
	                           "transactional\non_store_error = accept\n",
	        "t", &c2, err, sizeof(err), NULL, NULL),
	    0);
	og_gate_decide(c2, NULL, &c2->streams[0], NULL, "a@x.example", T0, &v);
	assert_int_equal(v.action, OG_ACCEPT);
	assert_string_equal(v.rule, "store-error");
	og_config_unref(c2);
}

static void
logline(void **state)
{
	og_verdict v;
	og_buf b;

	(void)state;
	og_gate_decide(cfg, NULL, og_config_stream(cfg, "news"), NULL,
	    "a@x.example", T0, &v);
	og_buf_init(&b, 0);
	og_gate_logline(&b, "4F1A2B", "a@x.example", "news@example.com",
	    "app.example", "192.0.2.7", og_config_stream(cfg, "news"), &v);
	assert_string_equal(b.data,
	    "4F1A2B: to=<a@x.example>, "
	    "from=<news@example.com>, client=app.example[192.0.2.7], "
	    "stream=news, action=tempfail, reason=store-error: store error");
	og_buf_reset(&b);
	og_gate_logline(&b, NULL, "a\"\n@x", NULL, NULL, NULL, NULL, &v);
	assert_string_equal(b.data,
	    "NOQUEUE: to=<a\\x22\\x0a@x>, from=<>, "
	    "stream=none, action=tempfail, reason=store-error: store error");
	og_buf_free(&b);
}

/* The table of held sends: per stream and key, back to nothing. */
static void
holds(void **state)
{
	(void)state;
	assert_int_equal(og_gate_held("news", "a@x.example"), 0);
	og_gate_hold("news", "a@x.example", 1);
	og_gate_hold("news", "a@x.example", 1);
	og_gate_hold("offers", "a@x.example", 1);
	assert_int_equal(og_gate_held("news", "a@x.example"), 2);
	assert_int_equal(og_gate_held("offers", "a@x.example"), 1);
	assert_int_equal(og_gate_held("news", "b@x.example"), 0);
	/* "news\0a@x" and "newsa\0@x" are different holds */
	assert_int_equal(og_gate_held("newsa", "@x.example"), 0);
	og_gate_hold("news", "a@x.example", -1);
	assert_int_equal(og_gate_held("news", "a@x.example"), 1);
	og_gate_hold("news", "a@x.example", -1);
	og_gate_hold("offers", "a@x.example", -1);
	assert_int_equal(og_gate_held("news", "a@x.example"), 0);
	assert_int_equal(og_gate_held("offers", "a@x.example"), 0);
	/* giving back what is not held changes nothing */
	og_gate_hold("news", "a@x.example", -1);
	og_gate_hold("news", "a@x.example", 1);
	assert_int_equal(og_gate_held("news", "a@x.example"), 1);
	og_gate_hold("news", "a@x.example", -1);
}

int
main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	size_t nh = sizeof(hcases) / sizeof(hcases[0]);
	size_t ns = sizeof(scases) / sizeof(scases[0]);
	struct CMUnitTest t[sizeof(cases) / sizeof(cases[0]) +
	                    sizeof(hcases) / sizeof(hcases[0]) +
	                    sizeof(scases) / sizeof(scases[0]) + 8];
	size_t i;

	memset(t, 0, sizeof(t));
	for (i = 0; i < n; i++) {
		t[i].name = cases[i].name;
		t[i].test_func = run_case;
		t[i].initial_state = (void *)&cases[i];
	}
	for (i = 0; i < nh; i++) {
		t[n + i].name = hcases[i].c.name;
		t[n + i].test_func = run_held;
		t[n + i].initial_state = (void *)&hcases[i];
	}
	n += nh;
	for (i = 0; i < ns; i++) {
		t[n + i].name = scases[i].c.name;
		t[n + i].test_func = run_sender;
		t[n + i].initial_state = (void *)&scases[i];
	}
	n += ns;
	t[n].name = "store error tempfails";
	t[n].test_func = store_error;
	t[n + 1].name = "transactional on_store_error = accept";
	t[n + 1].test_func = transactional_accept_on_error;
	t[n + 2].name = "log line format";
	t[n + 2].test_func = logline;
	t[n + 3].name = "held sends table";
	t[n + 3].test_func = holds;
	t[n + 4].name = "send times out of order";
	t[n + 4].test_func = unordered_sends;
	t[n + 5].name = "erasure lookup fails: tempfail";
	t[n + 5].test_func = erased_read_error;
	t[n + 6].name = "reply codes and texts";
	t[n + 6].test_func = replies;
	t[n + 7].name = "a cap's next send: from the printed time";
	t[n + 7].test_func = cap_next_send;
	return _cmocka_run_group_tests("og_gate", t, n + 8, setup, teardown);
}
