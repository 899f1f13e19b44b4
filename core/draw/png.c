/* PNG bytes of a cairo image surface, written here rather than by cairo: cairo hands libpng its
 * defaults (every row tried with five filters, zlib at level 6), which took three quarters of
 * a light curve's time and nine tenths of a stamp's (tools/bench_draw --only). A picture of
 * flat colour and a stamp scaled up by whole pixels need neither: each row is filtered "Up"
 * (its difference from the row above: mostly zeros), and zlib's fastest level squeezes those
 * runs to about the size cairo's PNG had. */
#include "draw_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SSI_PNG_UP 2 /* PNG's filter type "Up" */

static void ssi_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* One chunk: length, type, data, CRC of type and data. */
static void ssi_chunk(ss_wbuf *out, const char *type, const unsigned char *data, size_t len)
{
    unsigned char head[8], crc[4];
    ssi_be32(head, (uint32_t)len);
    memcpy(head + 4, type, 4);
    uLong c = crc32(0, head + 4, 4);
    if (len)
        c = crc32(c, data, (uInt)len);
    ssi_be32(crc, (uint32_t)c);
    ss_wbuf_bytes(out, head, 8);
    if (len)
        ss_wbuf_bytes(out, data, len);
    ss_wbuf_bytes(out, crc, 4);
}

/* Row @p y of the surface as PNG samples: gray bytes (A8) or R, G, B (RGB24's native words). */
static void ssi_row(const unsigned char *src, cairo_format_t f, int w, unsigned char *dst)
{
    if (f == CAIRO_FORMAT_A8) {
        memcpy(dst, src, (size_t)w);
        return;
    }
    for (int x = 0; x < w; x++) {
        uint32_t v;
        memcpy(&v, src + 4 * x, 4);
        dst[3 * x] = (unsigned char)(v >> 16);
        dst[3 * x + 1] = (unsigned char)(v >> 8);
        dst[3 * x + 2] = (unsigned char)v;
    }
}

/* The filtered rows (a filter byte, then each sample minus the one above). @return malloc'd. */
static unsigned char *ssi_filtered(cairo_surface_t *s, int channels, size_t *len)
{
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    cairo_format_t f = cairo_image_surface_get_format(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    size_t row = (size_t)w * (size_t)channels;
    unsigned char *out = malloc((row + 1) * (size_t)h), *prev = calloc(1, row ? row : 1),
                  *cur = malloc(row ? row : 1);
    if (!out || !prev || !cur) {
        free(out), free(prev), free(cur);
        return NULL;
    }
    for (int y = 0; y < h; y++) {
        unsigned char *o = out + (size_t)y * (row + 1);
        ssi_row(data + (size_t)y * (size_t)stride, f, w, cur);
        o[0] = SSI_PNG_UP;
        for (size_t i = 0; i < row; i++)
            o[1 + i] = (unsigned char)(cur[i] - prev[i]);
        unsigned char *t = prev;
        prev = cur, cur = t;
    }
    free(prev), free(cur);
    *len = (row + 1) * (size_t)h;
    return out;
}

int ssi_png_write(cairo_surface_t *s, ss_wbuf *out, ss_err *err)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cairo_surface_flush(s);
    cairo_format_t f = cairo_image_surface_get_format(s);
    if (f != CAIRO_FORMAT_A8 && f != CAIRO_FORMAT_RGB24)
        return ss_err_set(err, SS_EINVAL, "a PNG of cairo format %d: only A8 and RGB24", (int)f);
    int gray = f == CAIRO_FORMAT_A8;
    size_t raw_len, cap;
    unsigned char *raw = ssi_filtered(s, gray ? 1 : 3, &raw_len), *z = NULL;
    uLongf zlen = 0;
    if (raw) {
        cap = compressBound((uLong)raw_len);
        zlen = (uLongf)cap;
        z = malloc(cap);
    }
    if (!z || compress2(z, &zlen, raw, (uLong)raw_len, Z_BEST_SPEED) != Z_OK) {
        free(raw), free(z);
        return ss_err_set(err, SS_ENOMEM, "out of memory writing a PNG");
    }
    unsigned char ihdr[13];
    ssi_be32(ihdr, (uint32_t)cairo_image_surface_get_width(s));
    ssi_be32(ihdr + 4, (uint32_t)cairo_image_surface_get_height(s));
    ihdr[8] = 8;            /* bits per sample */
    ihdr[9] = gray ? 0 : 2; /* gray, or RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    ss_wbuf_bytes(out, sig, sizeof sig);
    ssi_chunk(out, "IHDR", ihdr, sizeof ihdr);
    ssi_chunk(out, "IDAT", z, zlen);
    ssi_chunk(out, "IEND", NULL, 0);
    free(raw), free(z);
    return out->failed ? ss_err_set(err, SS_ENOMEM, "out of memory writing a PNG") : 0;
}
