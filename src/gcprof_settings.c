/* gcprof_settings: parsing of the GCPROF_* variables. See gcprof_settings.h. */
#include "src/gcprof_settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/numparse.h"

/* The directory PREFIX names (its text up to the last '/', with %% read as %; "."
 * without one) into out. Returns 0, or -1 when it holds a %p (known only once the
 * program runs) or does not fit. */
static int prefix_directory(const char *prefix, char *out, size_t n)
{
    const char *slash = strrchr(prefix, '/');
    size_t len = slash ? (size_t)(slash - prefix) : 0;
    char text[GCPROF_MAX_PREFIX + 1], other[GCPROF_MAX_PREFIX + 1];
    if (len >= sizeof text) return -1;
    if (!slash || len == 0) {
        snprintf(out, n, "%s", slash ? "/" : ".");
        return 0;
    }
    memcpy(text, prefix, len);
    text[len] = '\0';
    if (gcprof_settings_expand(text, 1, out, n) < 0 || gcprof_settings_expand(text, 2, other, sizeof other) < 0)
        return -1;
    return strcmp(out, other) == 0 ? 0 : -1;
}

int gcprof_settings_check_directory(const char *prefix, char *err, size_t errn)
{
    char dir[GCPROF_MAX_PREFIX + 1];
    struct stat st;
    if (prefix_directory(prefix, dir, sizeof dir) < 0) return 0;
    const char *why = stat(dir, &st) < 0 ? strerror(errno)
                      : !S_ISDIR(st.st_mode) ? "not a directory"
                      : access(dir, W_OK | X_OK) < 0 ? strerror(errno) : NULL;
    if (!why) return 0;
    snprintf(err, errn, "cannot write files into %s: %s", dir, why);
    return -1;
}

int gcprof_settings_absolute(const char *prefix, const char *cwd, char *out, size_t n)
{
    size_t w = 0, plen = strlen(prefix);
    if (prefix[0] != '/') {
        for (const char *c = cwd; *c; c++) {
            if (w + 2 >= n) return -1;
            if (*c == '%') out[w++] = '%';
            out[w++] = *c;
        }
        if (w == 0 || out[w - 1] != '/') {
            if (w + 1 >= n) return -1;
            out[w++] = '/';
        }
    }
    if (w + plen >= n) return -1;
    memcpy(out + w, prefix, plen + 1);
    return 0;
}

int gcprof_settings_expand(const char *prefix, long pid, char *out, size_t n)
{
    size_t w = 0;
    for (const char *p = prefix; *p; p++) {
        char piece[32];
        size_t len = 1;
        piece[0] = *p;
        if (*p == '%') {
            if (p[1] == 'p') len = (size_t)snprintf(piece, sizeof piece, "%ld", pid);
            else if (p[1] != '%') return -1;
            p++;
        }
        if (w + len >= n) return -1;
        memcpy(out + w, piece, len);
        w += len;
    }
    if (w >= n) return -1;
    out[w] = '\0';
    return 0;
}

static int is_loopback(const char *host)
{
    unsigned char a[16];
    if (strcmp(host, "localhost") == 0) return 1;
    if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    static const unsigned char v6_loopback[16] = {[15] = 1};
    return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, v6_loopback, 16) == 0;
}

int gcprof_settings_http_addr(const char *addr, char *host, size_t host_n, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon) return -1;
    const char *h = addr, *h_end = colon;
    if (*h == '[') {                       /* [::1]:PORT */
        if (h_end - h < 2 || h_end[-1] != ']') return -1;
        h++;
        h_end--;
    }
    size_t hn = (size_t)(h_end - h);
    int64_t p;
    if (hn == 0 || hn >= host_n || memchr(h, '\0', hn)) return -1;
    if (numparse_decimal(colon + 1, strlen(colon + 1), 0, 65535, &p) != NUMPARSE_OK) return -1;
    memcpy(host, h, hn);
    host[hn] = '\0';
    if (!is_loopback(host)) return -1;
    *port = (int)p;
    return 0;
}

static int parse_switch(const char *name, const char *v, int *out, char *err, size_t errn)
{
    if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0) {
        *out = v[0] == '1';
        return 0;
    }
    snprintf(err, errn, "%s: must be 0 or 1, got \"%.40s\"", name, v);
    return -1;
}

/* One parser per setting, named after its field (GCPROF_SETTINGS lists them). */
static int parse_out(const char *name, const char *v, struct gcprof_settings *s, char *err, size_t errn)
{
    char probe[GCPROF_MAX_PREFIX + 32];
    if (!*v || strlen(v) > GCPROF_MAX_PREFIX) {
        snprintf(err, errn, "%s: must be a file name prefix of 1 to %d bytes", name, GCPROF_MAX_PREFIX);
        return -1;
    }
    if (gcprof_settings_expand(v, GCPROF_MAX_PID, probe, GCPROF_MAX_PREFIX + 1) < 0) {
        snprintf(err, errn, "%s: only %%p (the process id) and %%%% may follow a %%, got \"%.40s\"", name, v);
        return -1;
    }
    memcpy(s->out, v, strlen(v) + 1);
    return 0;
}

static int parse_rate(const char *name, const char *v, struct gcprof_settings *s, char *err, size_t errn)
{
    if (numparse_decimal(v, strlen(v), 0, GCPROF_MAX_RATE, &s->rate) == NUMPARSE_OK) return 0;
    snprintf(err, errn, "%s: must be a decimal integer from 0 to %lld, got \"%.40s\"", name,
             (long long)GCPROF_MAX_RATE, v);
    return -1;
}

static int parse_http(const char *name, const char *v, struct gcprof_settings *s, char *err, size_t errn)
{
    char host[GCPROF_MAX_HTTP + 1];
    int port;
    if (strlen(v) <= GCPROF_MAX_HTTP && gcprof_settings_http_addr(v, host, sizeof host, &port) == 0) {
        memcpy(s->http, v, strlen(v) + 1);
        return 0;
    }
    snprintf(err, errn, "%s: must be a loopback HOST:PORT such as 127.0.0.1:6060, localhost:0 or "
             "[::1]:6060 (the pages show the program's memory), got \"%.40s\"", name, v);
    return -1;
}

static int parse_children(const char *name, const char *v, struct gcprof_settings *s, char *err, size_t errn)
{
    return parse_switch(name, v, &s->children, err, errn);
}

static int parse_verbose(const char *name, const char *v, struct gcprof_settings *s, char *err, size_t errn)
{
    return parse_switch(name, v, &s->verbose, err, errn);
}

int gcprof_settings_parse(struct gcprof_settings *s, gcprof_getenv_fn get, void *ctx, char *err,
                          size_t errn)
{
    memset(s, 0, sizeof *s);
    s->rate = GCPROF_DEFAULT_RATE;
    const char *v;
#define PARSE(field, var, flag, arg, meaning) \
    if ((v = get(ctx, var)) && parse_##field(var, v, s, err, errn) < 0) return -1;
    GCPROF_SETTINGS(PARSE)
#undef PARSE
    return 0;
}
