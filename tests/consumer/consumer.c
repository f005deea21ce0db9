/* Loads a model, feeds it the f32 input in a file, and compares its first output with the expected values
 * (written by make_case.py from the Python package). Exit 0 when they agree.
 *   consumer_c model.pyrt input.bin d0,d1,... expected.bin [--decode-weights]
 * --decode-weights: the session option of that name (low-bit weights decoded, f32 arithmetic). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pyrt/pyrt.h>

static void* slurp(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void* p = malloc(*size ? *size : 1);
  if (p && fread(p, 1, *size, f) != *size) { free(p); p = NULL; }
  fclose(f);
  return p;
}

int main(int argc, char** argv) {
  const int decode = argc == 6 && strcmp(argv[5], "--decode-weights") == 0;
  if (argc != 5 && !decode) {
    fprintf(stderr, "usage: %s model.pyrt input.bin d0,d1,... expected.bin [--decode-weights]\n", argv[0]);
    return 2;
  }
  pyrt_model* model = NULL;
  pyrt_session* session = NULL;
  pyrt_session_options options;
  pyrt_session_options_init(&options);
  options.decode_weights = decode;
  if (pyrt_model_open(argv[1], &model) != PYRT_OK || pyrt_session_create(model, &options, &session) != PYRT_OK) {
    fprintf(stderr, "pyrt: %s\n", pyrt_last_error());
    return 1;
  }
  pyrt_io_info info;
  pyrt_model_input(model, 0, &info);
  pyrt_tensor in;
  memset(&in, 0, sizeof in);
  in.name = info.name;
  in.dtype = PYRT_F32;
  for (char* tok = strtok(argv[3], ","); tok && in.rank < PYRT_MAX_RANK; tok = strtok(NULL, ","))
    in.dims[in.rank++] = atoll(tok);
  size_t want_size = 0;
  in.data = slurp(argv[2], &in.size);
  float* want = (float*)slurp(argv[4], &want_size);
  pyrt_tensor out;
  memset(&out, 0, sizeof out);
  if (!in.data || !want || pyrt_session_run(session, &in, 1, &out, 1) != PYRT_OK) {
    fprintf(stderr, "pyrt: %s\n", in.data && want ? pyrt_last_error() : "cannot read the input files");
    return 1;
  }
  const float* got = (const float*)out.data;
  size_t bad = out.size != want_size;
  for (size_t i = 0; !bad && i < want_size / 4; ++i) bad += fabsf(got[i] - want[i]) > 1e-4f * (1.f + fabsf(want[i]));
  printf("%s: %s output '%s' (%zu values) %s the Python outputs; isa %s\n", argv[0], pyrt_version(), out.name,
         out.size / 4, bad ? "DIFFERS from" : "matches", pyrt_session_isa(session));
  free(in.data);
  free(want);
  pyrt_session_destroy(session);
  pyrt_model_close(model);
  return bad ? 1 : 0;
}
