/* promfmt: the text format 0.0.4 and OpenMetrics 1.0 writers and the Accept
 * negotiation. See promfmt.h.
 *
 * The two formats differ, for what memdemo writes, in four places: the Content-Type;
 * a counter family's name on its HELP and TYPE lines (text: "x_total", OpenMetrics:
 * "x"); HELP escaping (OpenMetrics also escapes '"'); and OpenMetrics' final "# EOF".
 */
#include "src/promfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- negotiation ------------------------------------------------------------------ */

/* One media range of an Accept header with the parameters that matter here. */
struct media_range {
    const char *type;        /* "type/subtype", not NUL-terminated */
    size_t type_len;
    char version[16];        /* "" when absent */
    double q;                /* 1 when absent; -1 when malformed */
};

static const char *skip_ws(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    return s;
}

static size_t trimmed_len(const char *s, const char *e)
{
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    return (size_t)(e - s);
}

/* Reads one parameter "key=value" in [s, e) into r. */
static void read_param(struct media_range *r, const char *s, const char *e)
{
    s = skip_ws(s, e);
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq) return;
    size_t klen = trimmed_len(s, eq);
    const char *v = skip_ws(eq + 1, e);
    size_t vlen = trimmed_len(v, e);
    if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') { v++; vlen -= 2; }
    if (klen == 1 && (s[0] == 'q' || s[0] == 'Q')) {
        char num[16];
        char *end;
        if (vlen == 0 || vlen >= sizeof num) { r->q = -1; return; }
        memcpy(num, v, vlen);
        num[vlen] = '\0';
        double q = strtod(num, &end);
        r->q = (*end || q < 0 || q > 1 || q != q) ? -1 : q;
    } else if (klen == 7 && strncasecmp(s, "version", 7) == 0) {
        if (vlen >= sizeof r->version) vlen = sizeof r->version - 1;   /* too long: no match */
        memcpy(r->version, v, vlen);
        r->version[vlen] = '\0';
    }
}

static void parse_range(struct media_range *r, const char *s, const char *e)
{
    s = skip_ws(s, e);
    const char *p = s;
    while (p < e && *p != ';') p++;
    r->type = s;
    r->type_len = trimmed_len(s, p);
    r->version[0] = '\0';
    r->q = 1;
    while (p < e) {               /* p is at a ';' */
        const char *param = ++p;
        while (p < e && *p != ';') p++;
        read_param(r, param, p);
    }
}

static int type_is(const struct media_range *r, const char *t)
{
    return r->type_len == strlen(t) && strncasecmp(r->type, t, r->type_len) == 0;
}

/* The acceptable range with the highest q wins; on a tie the earlier one. */
enum promfmt_kind promfmt_negotiate(const char *accept)
{
    enum promfmt_kind best = PROMFMT_TEXT;
    double best_q = 0;   /* q = 0 means "not acceptable" */
    for (const char *s = accept; s && *s;) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        struct media_range r;
        parse_range(&r, s, e);
        int om = type_is(&r, "application/openmetrics-text") &&
                 (!r.version[0] || !strcmp(r.version, "1.0.0") || !strcmp(r.version, "0.0.1"));
        int text = type_is(&r, "text/plain") && (!r.version[0] || !strcmp(r.version, "0.0.4"));
        if ((om || text) && r.q > best_q) {
            best_q = r.q;
            best = om ? PROMFMT_OPENMETRICS : PROMFMT_TEXT;
        }
        s = comma ? comma + 1 : e;
    }
    return best;
}

const char *promfmt_content_type(enum promfmt_kind kind)
{
    return kind == PROMFMT_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                       : "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- writing ---------------------------------------------------------------------- */

struct promfmt promfmt_start(struct buf *out, enum promfmt_kind kind)
{
    return (struct promfmt){out, kind, "", PROMFMT_GAUGE};
}

static const char *const type_names[] = {"counter", "gauge", "summary", "histogram"};

/* The family's name on HELP/TYPE lines. */
static void put_family_name(struct promfmt *w)
{
    buf_puts(w->out, w->family);
    if (w->type == PROMFMT_COUNTER && w->kind == PROMFMT_TEXT) buf_puts(w->out, "_total");
}

void promfmt_family(struct promfmt *w, const char *name, enum promfmt_type type, const char *help)
{
    w->family = name;
    w->type = type;
    buf_puts(w->out, "# HELP ");
    put_family_name(w);
    buf_putc(w->out, ' ');
    for (const char *c = help; *c; c++) {
        if (*c == '\\') buf_puts(w->out, "\\\\");
        else if (*c == '\n') buf_puts(w->out, "\\n");
        else if (*c == '"' && w->kind == PROMFMT_OPENMETRICS) buf_puts(w->out, "\\\"");
        else buf_putc(w->out, *c);
    }
    buf_puts(w->out, "\n# TYPE ");
    put_family_name(w);
    buf_printf(w->out, " %s\n", type_names[type]);
}

static void put_label_value(struct buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\') buf_puts(b, "\\\\");
        else if (*v == '"') buf_puts(b, "\\\"");
        else if (*v == '\n') buf_puts(b, "\\n");
        else buf_putc(b, *v);
    }
}

static void put_name_and_labels(struct promfmt *w, const char *suffix, const char *const *labels)
{
    buf_puts(w->out, w->family);
    buf_puts(w->out, w->type == PROMFMT_COUNTER && !*suffix ? "_total" : suffix);
    if (labels && labels[0]) {
        buf_putc(w->out, '{');
        for (int i = 0; labels[i] && labels[i + 1]; i += 2) {
            buf_printf(w->out, "%s%s=\"", i ? "," : "", labels[i]);
            put_label_value(w->out, labels[i + 1]);
            buf_putc(w->out, '"');
        }
        buf_putc(w->out, '}');
    }
    buf_putc(w->out, ' ');
}

void promfmt_u64(struct promfmt *w, const char *suffix, const char *const *labels, uint64_t v)
{
    put_name_and_labels(w, suffix, labels);
    buf_printf(w->out, "%llu\n", (unsigned long long)v);
}

void promfmt_f64(struct promfmt *w, const char *suffix, const char *const *labels, double v)
{
    char s[PROMFMT_FLOAT_MAX];
    promfmt_format_float(v, s);
    put_name_and_labels(w, suffix, labels);
    buf_puts(w->out, s);
    buf_putc(w->out, '\n');
}

void promfmt_finish(struct promfmt *w)
{
    if (w->kind == PROMFMT_OPENMETRICS) buf_puts(w->out, "# EOF\n");
}

void promfmt_format_float(double v, char out[PROMFMT_FLOAT_MAX])
{
    if (isnan(v)) { strcpy(out, "NaN"); return; }
    if (isinf(v)) { strcpy(out, v > 0 ? "+Inf" : "-Inf"); return; }
    if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) {   /* integral, exact: as is */
        snprintf(out, PROMFMT_FLOAT_MAX, "%lld", (long long)v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {   /* 17 digits always round-trip a double */
        snprintf(out, PROMFMT_FLOAT_MAX, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}
