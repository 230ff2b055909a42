/*
 * The C side of worker/src/h264/decoder.ts: a thin layer over libavcodec's
 * H.264 decoder that decodes one keyframe at a time. Exported names are the
 * whole interface; every pointer is an offset into the module's memory.
 *
 * Per keyframe: h264_packet() hands out a padded packet buffer for the sample,
 * h264_decode() flushes, sends it, drains (a NULL packet: otherwise the B-frame
 * reorder delay holds the picture back) and receives the frame; the frame stays
 * referenced until h264_release(), the next decode or destroy, so the caller
 * can copy its planes out.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libavcodec/avcodec.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/pixdesc.h"

#define EXPORT(name) __attribute__((export_name(#name)))

typedef struct Decoder {
  AVCodecContext *ctx;
  AVPacket *pkt;
  AVFrame *frame;
  /* width, height, data[0..2], linesize[0..2]: read by the TypeScript side. */
  int32_t info[8];
} Decoder;

static char error_text[512];
/* libavcodec's first error message since the last reset (e.g. "Invalid NAL
 * unit size"): it names the cause better than the AVERROR code or the errors
 * that follow from it, so it goes into error_text. */
static char log_text[256];

static void keep_errors(void *avcl, int level, const char *fmt, va_list args) {
  int print_prefix = 0;
  if (level > AV_LOG_ERROR || log_text[0]) return;
  av_log_format_line(avcl, level, fmt, args, log_text, sizeof log_text, &print_prefix);
  log_text[strcspn(log_text, "\n")] = 0;
}

/* Runs in _initialize: nothing is written to stderr, errors reach the caller. */
__attribute__((constructor)) static void init(void) { av_log_set_callback(keep_errors); }

/* Why h264_decode() or h264_create() failed: the input's fault or the heap's. */
#define FAILED_INPUT -1
#define FAILED_MEMORY -2

static int failure;

/* FFmpeg allocates through these (configure --malloc-prefix=glue_). A NULL
 * here means the heap reached its cap (build.sh), which no AVERROR reliably
 * says: a failed picture buffer surfaces as "invalid data". */
static int out_of_memory;
void *glue_malloc(size_t size) {
  void *ptr = malloc(size);
  out_of_memory |= !ptr && size;
  return ptr;
}
void *glue_realloc(void *ptr, size_t size) {
  void *moved = realloc(ptr, size);
  out_of_memory |= !moved && size;
  return moved;
}
void glue_free(void *ptr) { free(ptr); }

/* Sets error_text from err and the first logged message; returns (and keeps
 * for h264_failure()) FAILED_MEMORY or FAILED_INPUT. */
static int fail(int err, const char *what) {
  char code[64];
  if (!what) {
    av_strerror(err, code, sizeof code);
    what = code;
  }
  if (log_text[0]) snprintf(error_text, sizeof error_text, "%s (%s)", what, log_text);
  else snprintf(error_text, sizeof error_text, "%s", what);
  return failure = out_of_memory || err == AVERROR(ENOMEM) ? FAILED_MEMORY : FAILED_INPUT;
}

EXPORT(h264_malloc) void *h264_malloc(size_t size) { return malloc(size); }
EXPORT(h264_free) void h264_free(void *ptr) { free(ptr); }

/* The decoder for one track, configured by its avcC record; NULL on failure
 * (h264_failure() and h264_error_text() say why). Pictures over max_pixels are
 * refused before their buffers are allocated: the SPS, not the MP4 header,
 * sets the size. */
EXPORT(h264_create) Decoder *h264_create(const uint8_t *avcc, int size, int max_pixels) {
  const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
  Decoder *d;
  int err = AVERROR(ENOMEM);
  log_text[0] = 0;
  out_of_memory = 0;
  d = av_mallocz(sizeof(Decoder));
  if (!codec || !d) goto fail;
  d->ctx = avcodec_alloc_context3(codec);
  d->pkt = av_packet_alloc();
  d->frame = av_frame_alloc();
  if (!d->ctx || !d->pkt || !d->frame) goto fail;
  d->ctx->extradata = av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE);
  if (!d->ctx->extradata) goto fail;
  memcpy(d->ctx->extradata, avcc, size);
  d->ctx->extradata_size = size;
  d->ctx->thread_count = 1;
  d->ctx->max_pixels = max_pixels;
  /* Fail on bitstream errors instead of concealing them: a damaged sample is
   * the client's problem and must not turn into a plausible-looking picture. */
  d->ctx->err_recognition = AV_EF_EXPLODE | AV_EF_CRCCHECK | AV_EF_BITSTREAM;
  err = avcodec_open2(d->ctx, codec, NULL);
  if (err < 0) goto fail;
  return d;
fail:
  fail(err, NULL);
  if (d) {
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_free(d);
  }
  return NULL;
}

/* A zero-padded buffer of `size` bytes for the next sample (libavcodec reads
 * past the end of packets); NULL when out of memory. */
EXPORT(h264_packet) uint8_t *h264_packet(Decoder *d, int size) {
  av_packet_unref(d->pkt);
  return av_new_packet(d->pkt, size) < 0 ? NULL : d->pkt->data;
}

/* Decodes the packet filled through h264_packet() as a picture on its own.
 * 0: h264_frame_info()/h264_pix_fmt() describe the frame. FAILED_INPUT (also
 * when the decoder concealed errors or made no picture) or FAILED_MEMORY:
 * h264_error_text() says why. */
EXPORT(h264_decode) int h264_decode(Decoder *d) {
  int err;
  log_text[0] = 0;
  out_of_memory = 0;
  av_frame_unref(d->frame);
  avcodec_flush_buffers(d->ctx);
  err = avcodec_send_packet(d->ctx, d->pkt);
  av_packet_unref(d->pkt);
  if (err >= 0) err = avcodec_send_packet(d->ctx, NULL);
  if (err >= 0) err = avcodec_receive_frame(d->ctx, d->frame);
  if (err == AVERROR_EOF || err == AVERROR(EAGAIN))
    return fail(AVERROR_INVALIDDATA, "the sample holds no complete picture");
  if (err < 0) return fail(err, NULL);
  if (d->frame->decode_error_flags) {
    av_frame_unref(d->frame);
    return fail(AVERROR_INVALIDDATA, "parts of the picture could not be decoded");
  }
  d->info[0] = d->frame->width;
  d->info[1] = d->frame->height;
  for (int i = 0; i < 3; i++) {
    d->info[2 + i] = (int32_t)(uintptr_t)d->frame->data[i];
    d->info[5 + i] = d->frame->linesize[i];
  }
  return 0;
}

EXPORT(h264_frame_info) const int32_t *h264_frame_info(Decoder *d) { return d->info; }

/* The decoded frame's pixel format name ("yuv420p", "yuv420p10le", ...). */
EXPORT(h264_pix_fmt) const char *h264_pix_fmt(Decoder *d) {
  const char *name = av_get_pix_fmt_name(d->frame->format);
  return name ? name : "unknown";
}

EXPORT(h264_error_text) const char *h264_error_text(void) { return error_text; }
EXPORT(h264_failure) int h264_failure(void) { return failure; }

/* Drops the last frame (its buffer goes back to libavcodec's pool). */
EXPORT(h264_release) void h264_release(Decoder *d) { av_frame_unref(d->frame); }

EXPORT(h264_destroy) void h264_destroy(Decoder *d) {
  avcodec_free_context(&d->ctx);
  av_packet_free(&d->pkt);
  av_frame_free(&d->frame);
  av_free(d);
}
