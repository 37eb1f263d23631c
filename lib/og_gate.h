/*
 * og_gate.h - the decision: may this stream send this message to this
 * person now?
 *
 * og_gate_decide() is one pure function of (config, store snapshot,
 * stream, sender, recipient, now): it reads, never writes.  Rules, in
 * order:
 *   1. the recipient must be a deliverable address (og_addr);
 *   2. suppressions (hard bounce, complaint, manual, erased, partner list)
 *      and opt-outs, by scope: all, sender, partner, stream; expired
 *      temporary suppressions no longer count; an opt-out is lifted by a
 *      newer opt-in of a scope it covers; hard bounces hold for every
 *      class of stream; for a marketing stream with a partner, the
 *      partner's hashed suppression list (HMAC-SHA256 of the match key
 *      under the partner's key, computed only when the store holds a key
 *      for that partner);
 *   3. consent per the stream's rule (a pending double opt-in is not
 *      consent, nor is an opt-in an opt-out of its scope or a broader one
 *      has since taken back) - marketing streams only;
 *   4. frequency caps over the recorded sends, the segment's caps
 *      replacing the stream's, and the person's own chosen cap added -
 *      marketing streams only.
 * Counting a send is a separate call (og_gate_count), made only once a
 * message is accepted.
 *
 * Thread-safe: the only state is the table of held sends (below), under
 * a mutex; the caller owns the read handle.
 */
#ifndef OG_GATE_H
#define OG_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "og_buf.h"
#include "og_config.h"
#include "og_store.h"

enum og_action { OG_ACCEPT = 0, OG_REFUSE = 1, OG_TEMPFAIL = 2 };

typedef struct og_verdict {
	int action;     /* enum og_action */
	int refuse;     /* enum og_refuse: what the daemon does on REFUSE */
	int code;       /* SMTP reply code: 250, 550, 450, 451 */
	char dsn[8];    /* enhanced status: "5.7.1" */
	char text[448]; /* reply text, for the sender (fits a 512-byte reply) */
	char rule[24];  /* short token: ok, invalid, hard-bounce, complaint,
	                 * suppressed, optout, erased, partner-list,
	                 * no-consent, pending, cap, store-error */
	char reason[384]; /* for logs: "unsubscribed(all) 2026-11-02 one-click"
	                   */
	int64_t next_allowed; /* cap: when the next send would pass (0: n/a) */
	uint64_t event;       /* refused by an opt-out or suppression: the event
	                       * that set it, with its proof (0: none) */
	char key[OG_ADDR_MAX + 1]; /* the recipient's match key ("" invalid) */
} og_verdict;

/*
 * og_gate_decide - fill *v.  tx is the caller's read handle (may be NULL
 * only when the store could not be opened: the verdict is then the store
 * error rule).  sender may be NULL or "" (null sender).  Returns 0, or the
 * store error that made the verdict a store-error one (v is always
 * filled: marketing tempfails with 451 4.3.0, transactional follows
 * on_store_error).
 */
int og_gate_decide(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *sender, const char *rcpt, int64_t now, og_verdict *v);

/*
 * Sends held: recipients passed at RCPT whose message is not accepted
 * yet (counting waits for its END-OF-MESSAGE).  Without them, two
 * transactions to the same person in parallel would both pass a cap that
 * lets one through.  og_gate_hold(stream, key, +1 / -1) takes and gives
 * back a hold (process-wide, thread-safe); og_gate_held() counts them.
 *
 * og_gate_held_check - after a pass (v), count the sends other
 * transactions hold for v->key in st (og_gate_held(), less one when own:
 * the caller's transaction holds it too) as sends made now.  When they reach a
 * cap, *v becomes a deferral (450 4.7.1, rule "cap", reason "... held=N"): the
 * held message may still be aborted, so the client tries again later and then
 * meets the real count. Returns 1 when *v changed.  tx as for og_gate_decide.
 */
void og_gate_hold(const char *stream, const char *key, int delta);
int og_gate_held(const char *stream, const char *key);
int og_gate_held_check(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *sender, const char *rcpt, int64_t now, int own, og_verdict *v);
/*
 * og_gate_held_check_n - the same with the number of sends other
 * transactions hold given (held sends shared between processes:
 * og_store_holds).
 */
int og_gate_held_check_n(const og_config *cfg, og_rtxn *tx, const og_stream *st,
    const char *sender, const char *rcpt, int64_t now, int held, og_verdict *v);

/*
 * og_gate_stream_sender - the envelope sender to judge st by where no
 * message is at hand (optgate status, the preference page): the address
 * of the stream's sender: lines when they all name one domain, so that
 * sender scopes are named as the daemons name them.  NULL when the
 * stream has a sender key (the gate names the scope by it) or no one
 * domain; *unknown is then set for a stream without a sender key (its
 * sender-scope entries cannot be judged).
 */
const char *og_gate_stream_sender(const og_stream *st, int *unknown);

/*
 * og_gate_covers - whether entry e applies to stream st: scope all, the
 * sender scope sender_scope (as decide() names it; "" for none), st's
 * partner (any case) or st itself.
 */
int og_gate_covers(
    const og_entry *e, const og_stream *st, const char *sender_scope);

/*
 * og_gate_revoked - the opt-out in rec that took back opt-in e for st
 * (one that covers st, of e's scope or a broader one, as new as e or
 * newer, in force at now), or NULL.  sender_scope as for og_gate_covers.
 * A double opt-in asked (pending) and then taken back so is not
 * confirmed by its old token (optgate confirm).
 */
const og_entry *og_gate_revoked(const og_record *rec, const og_entry *e,
    const og_stream *st, const char *sender_scope, int64_t now);

/*
 * og_gate_caps - the caps of st that apply to the person of rec (NULL: no
 * record): a segment's caps replace the stream's; of several segments the
 * person carries, the first caps.segment line of the stream decides.  *n
 * gets their number.
 */
const og_cap *og_gate_caps(const og_stream *st, const og_record *rec, int *n);

/*
 * og_gate_reject - turn a refusal (v->action OG_REFUSE) into the rejection
 * refuse = reject gives for the same rule: 550 with the rule's own
 * enhanced status (5.1.1 hard bounce, 5.1.3 invalid address, 5.7.1 the
 * others).  For a daemon that cannot drop or defer this one recipient;
 * text, rule and reason stay.  Anything else is left as it is.
 */
void og_gate_reject(og_verdict *v);

/*
 * og_gate_one_rcpt - turn *v into the answer for a list stream's second
 * recipient that would pass: 452 4.5.3, so the client sends it in a new
 * transaction (each recipient gets its own token).  Rule "one-rcpt",
 * reason "one-recipient-per-transaction(STREAM)"; v->text is the
 * caller's to write.
 */
void og_gate_one_rcpt(og_verdict *v, const og_stream *st);

/*
 * og_gate_count - record accepted sends of stream st to the n match keys
 * (the verdicts' key fields).  Marketing streams with caps only; others
 * still count toward the stream's daily totals.  0 or a store error.
 */
int og_gate_count(og_store *store, const og_stream *st, const char *const *keys,
    size_t n, int64_t now);

/*
 * og_gate_logline - the one log line of a decision, Postfix style:
 *   QUEUEID: to=<r>, from=<s>, client=name[addr], stream=S,
 *   action=reject, reason=...
 * queueid NULL means "NOQUEUE"; client parts may be NULL.  Peer text is
 * escaped and capped.  Appends to b.
 */
void og_gate_logline(og_buf *b, const char *queueid, const char *rcpt,
    const char *sender, const char *client_name, const char *client_addr,
    const og_stream *st, const og_verdict *v);

/* Action word for logs: accept, reject, discard, defer, tempfail. */
const char *og_gate_action_name(const og_verdict *v);

#endif
