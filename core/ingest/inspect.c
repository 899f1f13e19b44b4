#include "inspect.h"

#include "ingest.h"

#include "json_text.h"
#include "publish.h"

#include <errno.h>
#include <string.h>

static void ssi_print_rejected(FILE *out, const ss_reject *rej)
{
    json_t *o = json_pack("{s:I, s:{s:s, s:s}}", "record", (json_int_t)rej->line, "rejected",
                          "reason", ss_reason_name(rej->reason), "detail", rej->detail);
    json_dumpf(o, out, SS_JSON_FLAGS);
    fputc('\n', out);
    json_decref(o);
}

/* A packet as ingest would take it: the validator's verdict included. */
static void ssi_print_packet(FILE *out, ss_packet *pkt)
{
    ss_reject rej = {0};
    if (ss_ingest_validate(pkt, &rej, NULL, NULL) != 1) {
        ssi_print_rejected(out, &rej);
        return;
    }
    json_t *hist = json_array();
    for (uint32_t i = 1; i < pkt->n; i++)
        json_array_append_new(hist, ss_publish_alert(&pkt->alerts[i]));
    json_t *lprops = json_object(), *cutouts = json_object();
    ss_json_props(lprops, pkt->locus_props, pkt->nlocus_props);
    for (int k = 0; k < SS_CUTOUT__COUNT; k++) /* sizes only: the bytes are images */
        if (pkt->cutouts[k].data)
            json_object_set_new(cutouts, ss_cutout_kind_name((ss_cutout_kind)k),
                                json_pack("{s:I, s:s?}", "bytes", (json_int_t)pkt->cutouts[k].len,
                                          "file_name", pkt->cutouts[k].file_name));
    json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o}", "record", (json_int_t)pkt->alerts[0].line,
                          "alert", ss_publish_alert(&pkt->alerts[0]), "history", hist,
                          "locus_properties", lprops, "cutouts", cutouts);
    json_dumpf(o, out, SS_JSON_FLAGS);
    fputc('\n', out);
    json_decref(o);
}

static int ssi_inspect_stream(FILE *fp, const char *path, const ss_decoder_ops *ops, void *shared,
                              const ss_decoder_config *cfg, FILE *out, ss_err *err)
{
    void *st = NULL;
    int rc = ops->open(fp, path, cfg, shared, &st, err);
    ss_packet *pkt = rc ? NULL : ss_packet_new();
    if (!rc && !pkt)
        rc = ss_err_set(err, SS_ENOMEM, "out of memory");
    if (pkt)
        pkt->skip_cutouts = cfg->skip_cutouts;
    while (!rc) {
        ss_reject rej = {0};
        ss_packet_reset(pkt);
        rc = ops->next(st, pkt, &rej, err);
        if (rc == 1)
            ssi_print_packet(out, pkt);
        else if (rc == SS_EREJECT)
            ssi_print_rejected(out, &rej);
        rc = rc == 1 || rc == SS_EREJECT ? 0 : rc ? rc : 1;
    }
    ss_packet_free(pkt);
    if (ops->close)
        ops->close(st);
    return rc == 1 ? 0 : rc;
}

int ss_ingest_inspect(const char *path, const ss_decoder_config *cfg, FILE *out, ss_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ss_err_set(err, errno, "%s: %s", path, strerror(errno));
    unsigned char head[4096];
    size_t n = fread(head, 1, sizeof head, fp);
    rewind(fp);
    const ss_decoder_ops *ops = ss_decoder_detect(path, head, n);
    ss_decoder_shared *sh = ss_decoder_shared_new(cfg);
    int rc = !ops ? ss_err_set(err, SS_EFORMAT, "%s: unknown format", path)
             : !sh
                 ? ss_err_set(err, SS_ENOMEM, "out of memory")
                 : ssi_inspect_stream(fp, path, ops, ss_decoder_shared_get(sh, ops), cfg, out, err);
    ss_decoder_shared_free(sh);
    fclose(fp);
    return rc;
}
