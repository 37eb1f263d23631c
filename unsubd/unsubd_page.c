/*
 * unsubd_page.c - the pages of optgate-unsubd, in English, Brazilian
 * Portuguese and Spanish.
 *
 * Pages work without JavaScript (plain forms), read well on a phone
 * (viewport, one column, large targets), and are accessible: every
 * control has a label, focus is visible, text contrast meets WCAG AA,
 * and the brand colour only paints a header whose text colour is chosen
 * by the colour's luminance.  Config text (brand name, stream
 * description) is HTML-escaped; a brand colour or logo URL that is not
 * plainly safe is left out.
 *
 * Public: unsubd_msg, unsubd_msg_fmt, unsubd_page_render, unsubd_page_short.
 * Thread-safe: constant tables only.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "og_time.h"
#include "og_token.h"
#include "unsubd.h"

static const char *const msgs[M_NMSG][UNSUBD_NLANG] = {
    [M_TITLE] = {"Email preferences", "Preferências de e-mail",
        "Preferencias de correo"},
    [M_FOR] = {"These settings are for %s.", "Estas configurações são para %s.",
        "Esta configuración es para %s."},
    [M_UNSUB_ONE] = {"Unsubscribe from %s", "Cancelar inscrição em %s",
        "Darse de baja de %s"},
    [M_PREFS] = {"Choose what you still want to receive",
        "Escolha o que ainda quer receber", "Elija lo que aún quiere recibir"},
    [M_PARTNERS] = {"Partner offers", "Ofertas de parceiros",
        "Ofertas de socios"},
    [M_PARTNER_OFFERS] = {"Offers from %s", "Ofertas de %s", "Ofertas de %s"},
    [M_FREQ] = {"How often", "Com que frequência", "Con qué frecuencia"},
    [M_FREQ_0] = {"As often as planned", "Frequência normal",
        "Frecuencia normal"},
    [M_FREQ_1] = {"At most one a week", "No máximo um por semana",
        "Como máximo uno por semana"},
    [M_FREQ_2] = {"At most two a month", "No máximo dois por mês",
        "Como máximo dos al mes"},
    [M_FREQ_3] = {"At most one a month", "No máximo um por mês",
        "Como máximo uno al mes"},
    [M_SAVE] = {"Save my choices", "Salvar minhas escolhas",
        "Guardar mis preferencias"},
    [M_UNSUB_ALL] = {"Unsubscribe from everything",
        "Cancelar todas as inscrições", "Darse de baja de todo"},
    [M_DONE_ONE] = {"You are unsubscribed from %s.",
        "Sua inscrição em %s foi cancelada.", "Se ha dado de baja de %s."},
    [M_DONE_ALL] = {"You are unsubscribed from all our mail.",
        "Você não receberá mais nenhum e-mail nosso.",
        "Ya no recibirá ningún correo nuestro."},
    [M_SAVED] = {"Your choices are saved.", "Suas escolhas foram salvas.",
        "Sus preferencias se han guardado."},
    [M_BAD_TITLE] = {"This link does not work", "Este link não funciona",
        "Este enlace no funciona"},
    [M_BAD_TEXT] = {"The link may be incomplete or too old. Please use "
                    "the unsubscribe link in a recent message.",
        "O link pode estar incompleto ou ser antigo demais. Use o link "
        "de cancelamento de uma mensagem recente.",
        "Puede que el enlace esté incompleto o sea demasiado antiguo. "
        "Use el enlace para darse de baja de un mensaje reciente."},
    [M_EXPIRED] = {"This form has expired. Nothing was changed: please "
                   "review your choices and save again.",
        "Este formulário expirou. Nada foi alterado: revise suas "
        "escolhas e salve novamente.",
        "Este formulario ha caducado. No se cambió nada: revise sus "
        "preferencias y guárdelas de nuevo."},
    [M_BUSY] = {"We could not save your choice just now. Nothing was "
                "changed; please try again in a minute.",
        "Não foi possível salvar sua escolha agora. Nada foi alterado; "
        "tente novamente em um minuto.",
        "No pudimos guardar su elección ahora. No se cambió nada; "
        "inténtelo de nuevo en un minuto."},
    [M_RATE] = {"Too many requests. Please wait a minute and try again.",
        "Muitas solicitações. Aguarde um minuto e tente novamente.",
        "Demasiadas solicitudes. Espere un minuto e inténtelo de nuevo."},
    [M_LANG] = {"Language", "Idioma", "Idioma"},
    [M_OPTIN_NOTE] = {"Ticking a box again subscribes you again; we keep "
                      "the time, your IP address and browser as proof "
                      "of your choice.",
        "Marcar uma caixa novamente reativa a inscrição; guardamos a "
        "data, o seu endereço IP e o navegador como comprovante da sua "
        "escolha.",
        "Marcar una casilla de nuevo le vuelve a suscribir; guardamos "
        "la fecha, su dirección IP y el navegador como prueba de su "
        "elección."},
    [M_NOTFOUND] = {"Page not found", "Página não encontrada",
        "Página no encontrada"},
    [M_TOOBIG] = {"The request is too large.", "A solicitação é grande demais.",
        "La solicitud es demasiado grande."},
    [M_MANAGE] = {"Manage your email preferences",
        "Gerenciar suas preferências de e-mail",
        "Gestionar sus preferencias de correo"},
    [M_RECEIVE] = {"Receive %s", "Receber %s", "Recibir %s"},
    [M_NOTHING] = {"Nothing to change.", "Nada a alterar.",
        "Nada que cambiar."},
    [M_ERROR] = {"Something went wrong", "Algo deu errado", "Algo salió mal"},
    [M_PARTLY] = {"Some of your choices could not be saved just now. "
                  "Please check them and save again in a moment.",
        "Algumas escolhas não puderam ser salvas agora. Confira e salve "
        "novamente em instantes.",
        "Algunas preferencias no se pudieron guardar ahora. Revíselas y "
        "guárdelas de nuevo en un momento."},
    [M_HELD] = {"Some of your choices cannot take effect: mail to this "
                "address was stopped (after a spam report or a failed "
                "delivery, for example). The boxes below show what you "
                "will receive.",
        "Algumas escolhas não podem valer: o envio para este endereço foi "
        "interrompido (por exemplo, após uma denúncia de spam ou uma "
        "falha de entrega). As caixas abaixo mostram o que você vai "
        "receber.",
        "Algunas de sus preferencias no pueden aplicarse: el envío a esta "
        "dirección se detuvo (por ejemplo, tras una denuncia de spam o un "
        "fallo de entrega). Las casillas de abajo muestran lo que "
        "recibirá."},
    [M_CHANGED] = {"Your choices were changed after this page was opened "
                   "(by an unsubscribe link, for example). Nothing was "
                   "saved: the boxes below show what you receive now; "
                   "please review them and save again.",
        "Suas escolhas mudaram depois que esta página foi aberta (por "
        "um link de cancelamento, por exemplo). Nada foi salvo: as "
        "caixas abaixo mostram o que você recebe agora; revise-as e "
        "salve novamente.",
        "Sus preferencias cambiaron después de abrir esta página (por "
        "un enlace para darse de baja, por ejemplo). No se guardó nada: "
        "las casillas de abajo muestran lo que recibe ahora; revíselas "
        "y guárdelas de nuevo."},
    [M_CHANGED_OUT] = {"Your choices were changed after this page was "
                       "opened (by an unsubscribe link, for example). Only "
                       "the boxes you unticked were saved: the boxes below "
                       "show what you receive now; please review them and "
                       "save again if you want more.",
        "Suas escolhas mudaram depois que esta página foi aberta (por "
        "um link de cancelamento, por exemplo). Só as caixas que você "
        "desmarcou foram salvas: as caixas abaixo mostram o que você "
        "recebe agora; revise-as e salve novamente se quiser mais.",
        "Sus preferencias cambiaron después de abrir esta página (por "
        "un enlace para darse de baja, por ejemplo). Solo se guardaron "
        "las casillas que desmarcó: las casillas de abajo muestran lo "
        "que recibe ahora; revíselas y guárdelas de nuevo si desea más."},
    [M_FREQ_OWN] = {"As now: at most %s", "Como agora: no máximo %s",
        "Como ahora: como máximo %s"},
    [M_PAUSED] = {"Paused: it resumes on %s. Untick the box to stop it "
                  "for good.",
        "Pausado: volta em %s. Desmarque a caixa para parar de vez.",
        "En pausa: se reanuda el %s. Desmarque la casilla para dejarlo "
        "del todo."},
    [M_RESUME] = {"Resume now", "Voltar a receber agora", "Reanudar ahora"},
};

/* Month names for a pause's end ("9 December 2026"). */
static const char *const months[UNSUBD_NLANG][12] = {
    {"January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December"},
    {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho",
        "agosto", "setembro", "outubro", "novembro", "dezembro"},
    {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
        "septiembre", "octubre", "noviembre", "diciembre"},
};

static const char *const lang_names[UNSUBD_NLANG] = {
    "English", "Português (Brasil)", "Español"};

/* The day of t (UTC, as optgate status dates it) in lang's words. */
static void
date_words(int lang, int64_t t, char *out, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (lang < 0 || lang >= UNSUBD_NLANG)
		lang = UNSUBD_EN;
	if (gmtime_r(&tt, &tm) == NULL) {
		og_date_fmt(t, out, size);
		return;
	}
	if (lang == UNSUBD_EN)
		(void)snprintf(out, size, "%d %s %d", tm.tm_mday,
		    months[lang][tm.tm_mon], tm.tm_year + 1900);
	else
		(void)snprintf(out, size, "%d de %s de %d", tm.tm_mday,
		    months[lang][tm.tm_mon], tm.tm_year + 1900);
}

const char *
unsubd_msg(int lang, int msg)
{
	if (lang < 0 || lang >= UNSUBD_NLANG)
		lang = UNSUBD_EN;
	if (msg < 0 || msg >= M_NMSG || msgs[msg][lang] == NULL)
		return "";
	return msgs[msg][lang];
}

void
unsubd_msg_fmt(int lang, int msg, const char *arg, char *out, size_t size)
{
	const char *m = unsubd_msg(lang, msg);
	const char *pct = strstr(m, "%s");

	if (size == 0)
		return;
	if (pct == NULL || arg == NULL)
		(void)snprintf(out, size, "%s", m);
	else
		(void)snprintf(
		    out, size, "%.*s%s%s", (int)(pct - m), m, arg, pct + 2);
}

/* Message msg with its one "%s" replaced by arg, HTML-escaped. */
static void
put_msg(og_buf *b, int lang, int msg, const char *arg)
{
	const char *m = unsubd_msg(lang, msg);
	const char *pct = strstr(m, "%s");

	if (pct == NULL || arg == NULL) {
		(void)unsubd_html(b, m);
		return;
	}
	{
		char head[512];
		size_t n = (size_t)(pct - m);

		if (n >= sizeof(head))
			n = sizeof(head) - 1;
		memcpy(head, m, n);
		head[n] = '\0';
		(void)unsubd_html(b, head);
	}
	(void)unsubd_html(b, arg);
	(void)unsubd_html(b, pct + 2);
}

/* What a stream is called on a page. */
static const char *
stream_label(const og_stream *st)
{
	if (st == NULL)
		return "";
	if (st->description != NULL && st->description[0] != '\0')
		return st->description;
	return st->name;
}

static const char *
brand_name(const og_stream *st)
{
	if (st != NULL && st->brand_name != NULL && st->brand_name[0] != '\0')
		return st->brand_name;
	return NULL;
}

static void
head(og_buf *b, int lang, const og_stream *st, int title)
{
	const char *color = "#1f3a5f", *fg = "#ffffff";
	const char *bn = brand_name(st);

	if (st != NULL && og_config_color_ok(st->brand_color)) {
		color = st->brand_color;
		fg = unsubd_color_dark(color) ? "#ffffff" : "#111111";
	}
	(void)og_buf_printf(b,
	    "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    "<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>",
	    unsubd_lang_tag(lang));
	if (bn != NULL) {
		(void)unsubd_html(b, bn);
		(void)og_buf_adds(b, " - ");
	}
	put_msg(b, lang, title, NULL);
	(void)og_buf_printf(b,
	    "</title>\n<style>\n"
	    "body{margin:0;font:1.05rem/1.5 system-ui,-apple-system,"
	    "'Segoe UI',Roboto,Arial,sans-serif;color:#1a1a1a;"
	    "background:#f5f5f5}\n"
	    "header{background:%s;color:%s;padding:.8rem 1rem;"
	    "display:flex;align-items:center;gap:.7rem;font-weight:600;"
	    "font-size:1.15rem}\n"
	    "header img{max-height:2.5rem;max-width:10rem}\n"
	    "main{max-width:36rem;margin:0 auto;padding:1rem;"
	    "background:#fff}\n"
	    "h1{font-size:1.4rem;margin:.4rem 0 .8rem}\n"
	    "nav{font-size:.95rem;margin-bottom:.5rem}\n"
	    "nav a{color:#0b4f9c;margin-right:.8rem}\n"
	    "nav a[aria-current]{color:#1a1a1a;font-weight:700;"
	    "text-decoration:none}\n"
	    "a{color:#0b4f9c}\n"
	    "fieldset{border:1px solid #767676;border-radius:.4rem;"
	    "margin:1rem 0;padding:.6rem .8rem}\n"
	    "legend{font-weight:600;padding:0 .3rem}\n"
	    ".row{padding:.5rem 0;border-bottom:1px solid #ddd}\n"
	    ".row:last-child{border-bottom:0}\n"
	    ".row label.cb{display:flex;gap:.6rem;align-items:center;"
	    "min-height:2.75rem;cursor:pointer}\n"
	    "input[type=checkbox]{width:1.4rem;height:1.4rem}\n"
	    ".freq{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;"
	    "margin-left:2rem;font-size:.95rem}\n"
	    "select{font:inherit;padding:.3rem;min-height:2.5rem}\n"
	    "button{font:inherit;font-weight:600;min-height:2.9rem;"
	    "padding:.5rem 1.1rem;border-radius:.4rem;cursor:pointer;"
	    "margin:.3rem 0;width:100%%}\n"
	    "button.primary{background:#1a1a1a;color:#fff;"
	    "border:2px solid #1a1a1a}\n"
	    "button.secondary{background:#fff;color:#1a1a1a;"
	    "border:2px solid #1a1a1a}\n"
	    ":focus-visible{outline:3px solid #0b4f9c;outline-offset:2px}\n"
	    ".notice{padding:.7rem 1rem;border-radius:.4rem;"
	    "background:#e6f4ea;border:1px solid #1e7e34}\n"
	    ".notice.error{background:#fdecea;border-color:#b3261e}\n"
	    ".note{font-size:.9rem;color:#444}\n"
	    ".paused{margin:0 0 .3rem 2rem;font-size:.95rem;color:#444}\n"
	    ".row label.resume{margin-left:2rem;min-height:2.75rem}\n"
	    "</style>\n</head>\n<body>\n<header>",
	    color, fg);
	if (st != NULL && og_config_url_ok(st->brand_logo)) {
		(void)og_buf_adds(b, "<img src=\"");
		(void)unsubd_html(b, st->brand_logo);
		(void)og_buf_adds(b, "\" alt=\"\">");
	}
	(void)og_buf_adds(b, "<span>");
	(void)unsubd_html(b, bn != NULL ? bn : stream_label(st));
	(void)og_buf_adds(b, "</span></header>\n<main>\n");
}

static void
foot(og_buf *b)
{
	(void)og_buf_adds(b, "</main>\n</body>\n</html>\n");
}

/* Language switcher: links to the same page in each language. */
static void
switcher(og_buf *b, int lang, const char *prefix, const char *token)
{
	int i;

	(void)og_buf_adds(b, "<nav aria-label=\"");
	put_msg(b, lang, M_LANG, NULL);
	(void)og_buf_adds(b, "\">");
	for (i = 0; i < UNSUBD_NLANG; i++) {
		(void)og_buf_printf(b,
		    "<a href=\"%s/u/%s?lang=%s\" lang=\"%s\" hreflang=\"%s\"%s>"
		    "%s</a>",
		    prefix, token, unsubd_lang_tag(i), unsubd_lang_tag(i),
		    unsubd_lang_tag(i),
		    i == lang ? " aria-current=\"page\"" : "", lang_names[i]);
	}
	(void)og_buf_adds(b, "</nav>\n");
}

static void
hidden(og_buf *b, const char *name, const char *value)
{
	(void)og_buf_printf(
	    b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
	(void)unsubd_html(b, value);
	(void)og_buf_adds(b, "\">\n");
}

/*
 * The rest of a row's checkbox: ticked when its mail comes now or after
 * a pause (saved as shown, it changes nothing), described by the pause.
 */
static void
box_state(og_buf *b, const unsubd_pref *pr, int i)
{
	if (pr->later && !pr->on)
		(void)og_buf_printf(b, " aria-describedby=\"w%d\"", i);
	(void)og_buf_printf(b, "%s> <span>", pr->later ? " checked" : "");
}

/*
 * A paused row: when it resumes, and where the row's own opt-in ends the
 * pause (an opt-out, not a suppression: the gate then lets its mail
 * through), a box to resume now (field name: "r" or "rp", value).
 */
static void
paused(og_buf *b, int lang, const unsubd_pref *pr, int i, const char *name,
    const char *value)
{
	char day[64];

	if (pr->on || !pr->later)
		return;
	date_words(lang, pr->resume, day, sizeof(day));
	(void)og_buf_printf(b, "<p class=\"paused\" id=\"w%d\">", i);
	put_msg(b, lang, M_PAUSED, day);
	(void)og_buf_adds(b, "</p>\n");
	if (!pr->resumable)
		return;
	(void)og_buf_printf(b,
	    "<label class=\"cb resume\"><input type=\"checkbox\" "
	    "id=\"r%d\" name=\"%s\" value=\"",
	    i, name);
	(void)unsubd_html(b, value);
	(void)og_buf_adds(b, "\"> <span>");
	put_msg(b, lang, M_RESUME, NULL);
	(void)og_buf_adds(b, "</span></label>\n");
}

static void
pref_row(og_buf *b, int lang, const unsubd_pref *pr, int i)
{
	int c;

	(void)og_buf_adds(b, "<div class=\"row\">");
	if (pr->st != NULL) {
		(void)og_buf_printf(b,
		    "<label class=\"cb\"><input type=\"checkbox\" "
		    "id=\"s%d\" name=\"s\" value=\"",
		    i);
		(void)unsubd_html(b, pr->st->name);
		(void)og_buf_adds(b, "\"");
		box_state(b, pr, i);
		(void)unsubd_html(b, stream_label(pr->st));
		(void)og_buf_adds(b, "</span></label>\n");
		paused(b, lang, pr, i, "r", pr->st->name);
		/* What was shown ticked: a stale form's unticked boxes */
		if (pr->later)
			hidden(b, "ws", pr->st->name);
		(void)og_buf_printf(
		    b, "<div class=\"freq\"><label for=\"c%d\">", i);
		put_msg(b, lang, M_FREQ, NULL);
		(void)og_buf_printf(
		    b, "</label><select id=\"c%d\" name=\"c.", i);
		(void)unsubd_html(b, pr->st->name);
		(void)og_buf_adds(b, "\">");
		for (c = 0; c < UNSUBD_NCAPS; c++) {
			(void)og_buf_printf(b, "<option value=\"%s\"%s>",
			    unsubd_cap_values[c],
			    c == pr->cap ? " selected" : "");
			put_msg(b, lang, M_FREQ_0 + c, NULL);
			(void)og_buf_adds(b, "</option>");
		}
		if (pr->cap < 0) {
			/* A cap the page does not offer (an import's): kept
			 * unless another is chosen ("own" changes nothing). */
			char per[16], what[48];

			og_duration_fmt(pr->own.period, per, sizeof(per));
			(void)snprintf(
			    what, sizeof(what), "%u/%s", pr->own.limit, per);
			(void)og_buf_adds(b, "<option value=\"own\" selected>");
			put_msg(b, lang, M_FREQ_OWN, what);
			(void)og_buf_adds(b, "</option>");
		}
		(void)og_buf_adds(b, "</select></div>");
	} else {
		(void)og_buf_printf(b,
		    "<label class=\"cb\"><input type=\"checkbox\" "
		    "id=\"p%d\" name=\"p\" value=\"",
		    i);
		(void)unsubd_html(b, pr->partner);
		(void)og_buf_adds(b, "\"");
		box_state(b, pr, i);
		put_msg(b, lang, M_PARTNER_OFFERS, pr->partner);
		(void)og_buf_adds(b, "</span></label>");
		paused(b, lang, pr, i, "rp", pr->partner);
		if (pr->later)
			hidden(b, "wp", pr->partner);
	}
	(void)og_buf_adds(b, "</div>\n");
}

void
unsubd_page_render(og_buf *b, const unsubd_page *p)
{
	int i, npartners = 0;
	char ts[24];

	head(b, p->lang, p->st, M_TITLE);
	switcher(b, p->lang, p->prefix, p->token);
	if (p->notice != NULL) {
		(void)og_buf_printf(b, "<p class=\"notice%s\" role=\"%s\">",
		    p->notice_error ? " error" : "",
		    p->notice_error ? "alert" : "status");
		(void)unsubd_html(b, p->notice);
		(void)og_buf_adds(b, "</p>\n");
	}
	(void)og_buf_adds(b, "<h1>");
	put_msg(b, p->lang, M_TITLE, NULL);
	(void)og_buf_adds(b, "</h1>\n<p>");
	put_msg(b, p->lang, M_FOR, p->masked);
	(void)og_buf_adds(b, "</p>\n");

	/* The one button: the same POST a mailbox provider sends. */
	(void)og_buf_printf(b, "<form method=\"post\" action=\"%s/u/%s\">\n",
	    p->prefix, p->token);
	hidden(b, "List-Unsubscribe", "One-Click");
	hidden(b, "lang", unsubd_lang_tag(p->lang));
	(void)og_buf_adds(
	    b, "<button type=\"submit\" class=\"primary\" id=\"unsub-one\">");
	if (p->oneclick == NULL)
		put_msg(b, p->lang, M_UNSUB_ALL, NULL);
	else
		put_msg(b, p->lang, M_UNSUB_ONE, p->oneclick);
	(void)og_buf_adds(b, "</button>\n</form>\n");

	/* The preference center. */
	(void)og_buf_printf(b,
	    "<form method=\"post\" action=\"%s/u/%s/prefs\">\n", p->prefix,
	    p->token);
	hidden(b, "csrf", p->csrf);
	(void)snprintf(ts, sizeof(ts), "%lld", (long long)p->csrf_time);
	hidden(b, "ts", ts);
	(void)snprintf(ts, sizeof(ts), "%llu", (unsigned long long)p->version);
	hidden(b, "v", ts);
	hidden(b, "lang", unsubd_lang_tag(p->lang));
	(void)og_buf_adds(b, "<fieldset><legend>");
	put_msg(b, p->lang, M_PREFS, NULL);
	(void)og_buf_adds(b, "</legend>\n");
	for (i = 0; i < p->nprefs; i++) {
		if (p->prefs[i].st != NULL)
			pref_row(b, p->lang, &p->prefs[i], i);
		else
			npartners++;
	}
	(void)og_buf_adds(b, "</fieldset>\n");
	if (npartners > 0) {
		(void)og_buf_adds(b, "<fieldset><legend>");
		put_msg(b, p->lang, M_PARTNERS, NULL);
		(void)og_buf_adds(b, "</legend>\n");
		for (i = 0; i < p->nprefs; i++)
			if (p->prefs[i].st == NULL)
				pref_row(b, p->lang, &p->prefs[i], i);
		(void)og_buf_adds(b, "</fieldset>\n");
	}
	(void)og_buf_adds(b, "<p class=\"note\">");
	put_msg(b, p->lang, M_OPTIN_NOTE, NULL);
	(void)og_buf_adds(b, "</p>\n<button type=\"submit\" name=\"action\" "
	                     "value=\"save\" class=\"primary\" id=\"save\">");
	put_msg(b, p->lang, M_SAVE, NULL);
	(void)og_buf_adds(b, "</button>\n<button type=\"submit\" "
	                     "name=\"action\" value=\"all\" "
	                     "class=\"secondary\" id=\"unsub-all\">");
	put_msg(b, p->lang, M_UNSUB_ALL, NULL);
	(void)og_buf_adds(b, "</button>\n</form>\n");
	foot(b);
}

void
unsubd_page_short(og_buf *b, int lang, const og_stream *st, int title, int text,
    const char *arg, const char *prefix, const char *token)
{
	head(b, lang, st, title);
	(void)og_buf_adds(b, "<h1>");
	put_msg(b, lang, title, NULL);
	(void)og_buf_adds(b, "</h1>\n<p role=\"status\">");
	put_msg(b, lang, text, arg);
	(void)og_buf_adds(b, "</p>\n");
	if (token != NULL) {
		(void)og_buf_printf(b, "<p><a href=\"%s/u/%s?lang=%s\">",
		    prefix, token, unsubd_lang_tag(lang));
		put_msg(b, lang, M_MANAGE, NULL);
		(void)og_buf_adds(b, "</a></p>\n");
	}
	foot(b);
}
