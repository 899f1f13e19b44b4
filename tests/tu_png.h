/* PNG bytes decoded for the picture tests (core/draw/draw_test.c, core/serve/pictures_test.c). */
#ifndef TU_PNG_H
#define TU_PNG_H

#include <cairo.h>
#include <stddef.h>

/* Decode @p len bytes of PNG into an image surface, failing the test when they are not a PNG.
 * @return a surface the caller destroys (cairo_surface_destroy()). */
cairo_surface_t *tu_png_decode(const void *bytes, size_t len);

#endif
