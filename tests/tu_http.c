/* Helpers of the HTTP suites (tu_http.h). */
#include "tu_http.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void tu_serve_exec(const tu_server *s, const char *args)
{
    char *log = tu_path(tu_tmp, "serve.log"), *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "exec '%s' serve --listen 127.0.0.1:%d %s 2>>'%s'", SS_BINARY,
                              s->port, args, log),
                     0);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

void tu_serve_start(tu_server *s, const char *fmt, ...)
{
    char *args = NULL;
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    s->port = tu_free_port();
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0)
        tu_serve_exec(s, args);
    free(args);
    for (int i = 0; i < 200; i++) {
        if (tu_http_status(s, "/api/v1") != 0) /* any answer: it may want a token */
            return;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            break;
        }
        usleep(100 * 1000);
    }
    char *log = tu_path(tu_tmp, "serve.log");
    size_t len;
    char *text = access(log, R_OK) == 0 ? tu_read_file(log, &len) : NULL;
    ck_abort_msg("skysieve serve did not answer: %s", /* the log's end: Check caps messages */
                 text ? text + (len > 2000 ? len - 2000 : 0) : "(no log)");
}

void tu_serve_stop(tu_server *s)
{
    int st;
    if (!s->pid)
        return;
    ck_assert_int_eq(kill(s->pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(s->pid, &st, 0), s->pid);
    s->pid = 0;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "skysieve serve stopped with %d", st);
}

typedef struct tu_buf {
    char *data;
    size_t len;
} tu_buf;

static size_t tu_collect(char *p, size_t size, size_t n, void *ctx)
{
    tu_buf *b = ctx;
    char *fresh = realloc(b->data, b->len + size * n + 1);
    if (!fresh)
        return 0;
    memcpy(fresh + b->len, p, size * n);
    b->data = fresh;
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

long tu_http_get(const tu_server *s, const char *path, char **body, size_t *len, char **ctype)
{
    return tu_http_get_h(s, path, NULL, body, len, ctype);
}

long tu_http_get_h(const tu_server *s, const char *path, const char *header, char **body,
                   size_t *len, char **ctype)
{
    CURL *c = curl_easy_init();
    char *url = NULL;
    tu_buf b = {0};
    long status = 0;
    ck_assert_ptr_nonnull(c);
    ck_assert_int_ge(asprintf(&url, "%s%s", s->base, path), 0);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    struct curl_slist *headers = header ? curl_slist_append(NULL, header) : NULL;
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (ctype) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        *ctype = ct ? strdup(ct) : NULL;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    free(url);
    if (len)
        *len = b.len;
    if (body)
        *body = b.data;
    else
        free(b.data);
    return status;
}

json_t *tu_http_json(const tu_server *s, const char *path, long want)
{
    char *body = NULL;
    size_t len = 0;
    long st = tu_http_get(s, path, &body, &len, NULL);
    ck_assert_msg(st == want, "GET %s: status %ld, wanted %ld: %s", path, st, want,
                  body ? body : "");
    json_error_t je;
    json_t *o = body ? json_loadb(body, len, 0, &je) : NULL;
    ck_assert_msg(o != NULL, "GET %s: not JSON: %s", path, body ? body : "(empty)");
    free(body);
    return o;
}

long tu_http_status(const tu_server *s, const char *path)
{
    return tu_http_get(s, path, NULL, NULL, NULL);
}
