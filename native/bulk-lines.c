// Node-API binding that frames plain lines and writes their _bulk operations, for the shipper's inputs with no parser
// and no filter: a run of a read buffer's lines in one call instead of a call per line into the JS encoder (which
// spends most of its time checking and copying the message byte by byte). Same bytes as the JS encoder's
// (src/ship/output/encoder.ts, makeBytesEncoder); the framer (src/ship/input/framing.ts) hands every line this
// binding leaves to the JS path, so the rules for cut, padded, escaped or partial lines live in one place.
// Node-API only (no V8 or libuv headers): one build loads on every Node >= 20. Built by scripts/build-native.mjs;
// without it every plain line goes through the JS encoder.
//
// JS surface:
//   writeLines(src, start, end, pos, arena, at, opHead, head, mid, tail, maxLine, maxDocs, maxBytes, out) -> count
//     Frames the lines of src[start, end) (a Buffer; pos: the file offset of src[start]) and writes the _bulk operation
//     of each into arena (a Buffer) from `at`, back to back:
//       opHead + the offset in base 36 + head + '"' + the line + '"' + mid + the offset in decimal + tail
//     (opHead: `{"create":{"_id":"KEY-`; head: `"}}\n{"@timestamp":"...","message":`; mid: `,"log":{"file":{"path":
//     "..."},"offset":`; tail: the document's end and its \n; all Buffers). It stops before the first line it does
//     not take, and leaves that line to the caller:
//       - a line with no \n before `end` (partial), or starting with NUL (padding), or empty, or longer than maxLine
//         bytes (after a \r before its \n is dropped);
//       - a line holding a byte JSON must escape (controls, `"`, `\`) or any non-ASCII byte: such a message is decoded
//         and escaped by the JS encoder;
//       - an operation that does not fit in arena's remaining bytes;
//     and after the line that brings the lines written to maxDocs, or their operations' bytes to maxBytes or more.
//     out (a Float64Array of 2 + 3n numbers: room for n lines) gets: out[0] the index in src just after the last line
//     taken (its \n), out[1] the index in arena where its operation ends; then, for each line k, out[2 + 3k] its
//     offset, out[3 + 3k] the offset after its \n (where reading resumes), out[4 + 3k] where its operation ends in
//     arena. Returns how many lines it took (0: out[0] = start, out[1] = at). Throws a TypeError on arguments of the
//     wrong type or out of range.
#include <node_api.h>
#include <stdint.h>
#include <string.h>

/** Bytes a line cannot be copied with as they are: controls, `"`, `\` and every non-ASCII byte (as encoder.ts). */
static uint8_t NOT_COPIED[256];

/** Base-36 digits of 2^53 and decimal digits of 2^64, rounded up: room for either number. */
#define MAX_DIGITS 20

/** Writes v's digits in radix (10 or 36; lower-case letters, as Number's toString) at out; returns how many. */
static size_t put_digits(uint8_t *out, uint64_t v, unsigned radix) {
  uint8_t tmp[MAX_DIGITS + 4];
  size_t n = 0;
  do {
    unsigned d = (unsigned)(v % radix);
    tmp[n++] = (uint8_t)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= radix;
  } while (v != 0);
  for (size_t k = 0; k < n; k++) out[k] = tmp[n - 1 - k];
  return n;
}

static napi_value fail(napi_env env, const char *what) {
  napi_throw_type_error(env, NULL, what);
  return NULL;
}

/** Reads v as a Buffer's bytes; false when it is not one. */
static int buffer_arg(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
}

/** Reads v as a number from 0 to 2^53; false when it is not one. */
static int number_arg(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) return 0;
  return *out >= 0 && *out <= 9007199254740992.0;
}

static napi_value js_write_lines(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 14) return fail(env, "writeLines takes 14 arguments");
  uint8_t *src, *arena, *op_head, *head, *mid, *tail;
  size_t src_len, arena_len, op_head_len, head_len, mid_len, tail_len;
  double start_d, end_d, pos_d, at_d, max_line_d, max_docs_d, max_bytes_d;
  if (!buffer_arg(env, argv[0], &src, &src_len)) return fail(env, "writeLines: src must be a Buffer");
  if (!number_arg(env, argv[1], &start_d) || !number_arg(env, argv[2], &end_d) || start_d > end_d || end_d > (double)src_len)
    return fail(env, "writeLines: start and end must be indexes of src, start <= end");
  if (!number_arg(env, argv[3], &pos_d)) return fail(env, "writeLines: pos must be a file offset");
  if (!buffer_arg(env, argv[4], &arena, &arena_len)) return fail(env, "writeLines: arena must be a Buffer");
  if (!number_arg(env, argv[5], &at_d) || at_d > (double)arena_len) return fail(env, "writeLines: at must be an index of arena");
  if (!buffer_arg(env, argv[6], &op_head, &op_head_len) || !buffer_arg(env, argv[7], &head, &head_len) || !buffer_arg(env, argv[8], &mid, &mid_len) ||
      !buffer_arg(env, argv[9], &tail, &tail_len))
    return fail(env, "writeLines: opHead, head, mid and tail must be Buffers");
  if (!number_arg(env, argv[10], &max_line_d) || !number_arg(env, argv[11], &max_docs_d) || !number_arg(env, argv[12], &max_bytes_d))
    return fail(env, "writeLines: maxLine, maxDocs and maxBytes must be numbers >= 0");
  bool is_typed = false;
  napi_typedarray_type type;
  size_t out_len = 0;
  void *out_data = NULL;
  if (napi_is_typedarray(env, argv[13], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[13], &type, &out_len, &out_data, NULL, NULL) != napi_ok || type != napi_float64_array || out_len < 2)
    return fail(env, "writeLines: out must be a Float64Array of at least 2 numbers");
  double *out = out_data;

  const size_t start = (size_t)start_d, end = (size_t)end_d, max_line = (size_t)max_line_d;
  const double max_docs = max_docs_d, max_bytes = max_bytes_d;
  const size_t room_lines = (out_len - 2) / 3;
  // Room an operation takes besides its line: the fragments, two numbers, two quotes.
  const size_t fixed = op_head_len + head_len + mid_len + tail_len + 2 * MAX_DIGITS + 2;
  size_t i = start, a = (size_t)at_d, n = 0;
  double bytes = 0;
  while (i < end && n < room_lines && (double)n < max_docs && bytes < max_bytes) {
    if (src[i] == 0) break;
    const uint8_t *nl_at = memchr(src + i, '\n', end - i);
    if (nl_at == NULL) break;
    const size_t nl = (size_t)(nl_at - src);
    size_t stop = nl;
    if (stop > i && src[stop - 1] == '\r') stop--;
    const size_t len = stop - i;
    if (len == 0 || len > max_line) break;
    uint8_t refused = 0;
    for (size_t k = i; k < stop; k++) refused |= NOT_COPIED[src[k]];
    if (refused) break;
    if (arena_len - a < fixed + len) break;
    const uint64_t offset = (uint64_t)(pos_d + (double)(i - start));
    const size_t from = a;
    memcpy(arena + a, op_head, op_head_len);
    a += op_head_len;
    a += put_digits(arena + a, offset, 36);
    memcpy(arena + a, head, head_len);
    a += head_len;
    arena[a++] = '"';
    memcpy(arena + a, src + i, len);
    a += len;
    arena[a++] = '"';
    memcpy(arena + a, mid, mid_len);
    a += mid_len;
    a += put_digits(arena + a, offset, 10);
    memcpy(arena + a, tail, tail_len);
    a += tail_len;
    out[2 + 3 * n] = (double)offset;
    out[3 + 3 * n] = pos_d + (double)(nl + 1 - start);
    out[4 + 3 * n] = (double)a;
    bytes += (double)(a - from);
    n++;
    i = nl + 1;
  }
  out[0] = (double)i;
  out[1] = (double)a;
  napi_value result;
  if (napi_create_uint32(env, (uint32_t)n, &result) != napi_ok) return NULL;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  for (int b = 0; b < 256; b++) NOT_COPIED[b] = (uint8_t)(b < 0x20 || b == '"' || b == '\\' || b >= 0x80);
  napi_value fn;
  if (napi_create_function(env, "writeLines", NAPI_AUTO_LENGTH, js_write_lines, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "writeLines", fn) != napi_ok) {
    napi_throw_error(env, NULL, "bulk-lines binding: cannot export writeLines");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
