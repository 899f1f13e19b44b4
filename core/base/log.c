#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const ssi_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void ss_log_line(const ss_log *lg, ss_log_level level, const char *fmt, ...)
{
    if (!lg || !lg->fp || level < lg->min)
        return;
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* one fprintf-free buffer and one write, so lines of concurrent processes do not interleave */
    char line[2048];
    int n = snprintf(line, sizeof line, "%s.%03ldZ %-5s ", stamp, now.tv_nsec / 1000000L,
                     ssi_level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, lg->fp);
    fflush(lg->fp);
}

int ss_log_level_parse(const char *s, ss_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, ssi_level_names[i]) || (i == 2 && !strcasecmp(s, "warning"))) {
            *out = (ss_log_level)i;
            return 0;
        }
    return -1;
}
