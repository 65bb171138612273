// Node-API binding of libdeflate's whole-buffer gzip (https://github.com/ebiggers/libdeflate), for _bulk bodies:
// at level 1 it takes ~15% less CPU than the zlib bundled in Node for this shipper's bodies, and makes them ~1%
// smaller (bench/ship-gzip.mjs).
// Node-API only (no V8 or libuv headers): one build loads on every Node >= 20. Built by scripts/build-native.mjs;
// src/ship/output/gzip.ts falls back to node:zlib when it is absent.
//
// JS surface:
//   open(level: 1..12) -> handle          a compressor and its output scratch; freed when the handle is collected
//   gzip(handle, input: Buffer) -> Promise<Buffer>
//                                          one complete gzip member (RFC 1952) of input, made on libuv's thread pool;
//                                          one call at a time per handle (the caller keeps a pool of handles). The
//                                          input is read in place until the promise settles: it must not be written,
//                                          and its ArrayBuffer not transferred or detached, before then.
//   version: string                        libdeflate's version
#include <libdeflate.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  struct libdeflate_compressor *compressor;
  unsigned char *out;
  size_t out_cap;
  int busy;
} Codec;

/** Marks the externals open() makes, so that gzip() refuses an external of another addon (Node-API 8). */
static const napi_type_tag CODEC_TAG = {0x5d1c3e0a7b9f4c21ULL, 0x8e6a2d4f1b3c5a79ULL};
/** A scratch output larger than this is freed after its call (a one-off huge body does not stay allocated). */
#define KEEP_OUT_MAX (4u << 20)

enum Failure { OK = 0, NO_MEMORY, NO_ROOM };

typedef struct {
  Codec *codec;
  /** The handle and the input, held until the work is done (the compressor must not be freed under it). */
  napi_ref handle_ref;
  napi_ref input_ref;
  const unsigned char *in;
  size_t in_len;
  size_t out_len;
  enum Failure failed;
  napi_deferred deferred;
  napi_async_work work;
} Job;

#define CHECK(env, call)                                   \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      napi_throw_error((env), NULL, "libdeflate binding: " #call " failed"); \
      return NULL;                                         \
    }                                                      \
  } while (0)

static void codec_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Codec *c = data;
  libdeflate_free_compressor(c->compressor);
  free(c->out);
  free(c);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t level = 1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &level) != napi_ok || level < 1 || level > 12) {
    napi_throw_range_error(env, NULL, "libdeflate level must be an integer from 1 to 12");
    return NULL;
  }
  Codec *c = calloc(1, sizeof(Codec));
  if (c == NULL || (c->compressor = libdeflate_alloc_compressor(level)) == NULL) {
    free(c);
    napi_throw_error(env, NULL, "libdeflate: out of memory for a compressor");
    return NULL;
  }
  napi_value handle;
  if (napi_create_external(env, c, codec_free, NULL, &handle) != napi_ok || napi_type_tag_object(env, handle, &CODEC_TAG) != napi_ok) {
    codec_free(env, c, NULL);
    napi_throw_error(env, NULL, "libdeflate binding: napi_create_external failed");
    return NULL;
  }
  return handle;
}

// On a thread-pool thread: no JS values here.
static void job_execute(napi_env env, void *data) {
  (void)env;
  Job *j = data;
  Codec *c = j->codec;
  size_t bound = libdeflate_gzip_compress_bound(c->compressor, j->in_len);
  if (bound > c->out_cap) {
    unsigned char *bigger = realloc(c->out, bound);
    if (bigger == NULL) {
      j->failed = NO_MEMORY;
      return;
    }
    c->out = bigger;
    c->out_cap = bound;
  }
  j->out_len = libdeflate_gzip_compress(c->compressor, j->in, j->in_len, c->out, c->out_cap);
  // 0 only when the output does not fit, which the bound rules out.
  if (j->out_len == 0) j->failed = NO_ROOM;
}

static void job_complete(napi_env env, napi_status status, void *data) {
  Job *j = data;
  Codec *c = j->codec;
  napi_value result;
  const char *why = NULL;
  if (status != napi_ok) why = "libdeflate: the compression was cancelled";
  else if (j->failed == NO_MEMORY) why = "libdeflate: out of memory for the output";
  else if (j->failed == NO_ROOM) why = "libdeflate: the output did not fit its bound";
  else if (napi_create_buffer_copy(env, j->out_len, c->out, NULL, &result) != napi_ok) why = "libdeflate binding: cannot make the output Buffer";
  if (why == NULL) {
    napi_resolve_deferred(env, j->deferred, result);
  } else {
    napi_value msg;
    napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, j->deferred, result);
  }
  if (c->out_cap > KEEP_OUT_MAX) {
    free(c->out);
    c->out = NULL;
    c->out_cap = 0;
  }
  c->busy = 0;
  napi_delete_reference(env, j->handle_ref);
  napi_delete_reference(env, j->input_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value js_gzip(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Codec *c = NULL;
  bool is_buffer = false;
  bool tagged = false;
  if (argc < 2 || napi_check_object_type_tag(env, argv[0], &CODEC_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, argv[0], (void **)&c) != napi_ok || c == NULL) {
    napi_throw_type_error(env, NULL, "libdeflate gzip: the first argument must be a handle from open()");
    return NULL;
  }
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "libdeflate gzip: the input must be a Buffer");
    return NULL;
  }
  if (c->busy) {
    napi_throw_error(env, NULL, "libdeflate gzip: this handle is already compressing (one call at a time)");
    return NULL;
  }
  Job *j = calloc(1, sizeof(Job));
  if (j == NULL) {
    napi_throw_error(env, NULL, "libdeflate gzip: out of memory");
    return NULL;
  }
  j->codec = c;
  void *in;
  napi_value promise, name;
  if (napi_get_buffer_info(env, argv[1], &in, &j->in_len) != napi_ok) {
    free(j);
    napi_throw_error(env, NULL, "libdeflate binding: cannot read the input");
    return NULL;
  }
  if (napi_create_reference(env, argv[0], 1, &j->handle_ref) != napi_ok) {
    free(j);
    napi_throw_error(env, NULL, "libdeflate binding: cannot hold the handle");
    return NULL;
  }
  if (napi_create_reference(env, argv[1], 1, &j->input_ref) != napi_ok) {
    napi_delete_reference(env, j->handle_ref);
    free(j);
    napi_throw_error(env, NULL, "libdeflate binding: cannot hold the input");
    return NULL;
  }
  j->in = in;
  // The promise is made last: every failure before it throws, and nothing after it can fail.
  if (napi_create_string_utf8(env, "sidekick:libdeflate-gzip", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work) != napi_ok ||
      napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
    if (j->work != NULL) napi_delete_async_work(env, j->work);
    napi_delete_reference(env, j->handle_ref);
    napi_delete_reference(env, j->input_ref);
    free(j);
    napi_throw_error(env, NULL, "libdeflate binding: cannot set up the work");
    return NULL;
  }
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    napi_value msg, err;
    napi_create_string_utf8(env, "libdeflate binding: cannot queue the work", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
    napi_delete_async_work(env, j->work);
    napi_delete_reference(env, j->handle_ref);
    napi_delete_reference(env, j->input_ref);
    free(j);
    return promise;
  }
  c->busy = 1;
  return promise;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn, version;
  CHECK(env, napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "open", fn));
  CHECK(env, napi_create_function(env, "gzip", NAPI_AUTO_LENGTH, js_gzip, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "gzip", fn));
  CHECK(env, napi_create_string_utf8(env, LIBDEFLATE_VERSION_STRING, NAPI_AUTO_LENGTH, &version));
  CHECK(env, napi_set_named_property(env, exports, "version", version));
  return exports;
}
