/* Small text helpers (text.h). */
#include "text.h"

#include <string.h>

int ss_text_list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !memcmp(p, item, n))
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}
