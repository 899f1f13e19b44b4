/* PNG bytes decoded through cairo's reader, fed from memory (tu_png.h). */
#include "tu_png.h"

#include <check.h>
#include <string.h>

typedef struct tu_png_reader {
    const unsigned char *p;
    size_t left;
} tu_png_reader;

static cairo_status_t tu_png_read(void *closure, unsigned char *data, unsigned int len)
{
    tu_png_reader *r = closure;
    if (len > r->left)
        return CAIRO_STATUS_READ_ERROR;
    memcpy(data, r->p, len);
    r->p += len, r->left -= len;
    return CAIRO_STATUS_SUCCESS;
}

cairo_surface_t *tu_png_decode(const void *bytes, size_t len)
{
    tu_png_reader r = {bytes, len};
    cairo_surface_t *s = cairo_image_surface_create_from_png_stream(tu_png_read, &r);
    ck_assert_msg(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "not a PNG: %s",
                  cairo_status_to_string(cairo_surface_status(s)));
    return s;
}
