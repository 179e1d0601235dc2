// A resident libnftables context for the native firewall backend: each sync's transaction goes to the
// kernel without spawning `nft` (a spawn costs more than a small transaction). libnftables is opened
// with dlopen, so the addon builds without its headers (libnftables-dev) and a host without the library
// still builds it; open() then fails and the caller falls back to the nft binary.
// A transaction runs on a libuv worker thread: a full-table load must not stall the event loop.
#define _GNU_SOURCE
#include <node_api.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct nft_ctx;

// The slice of libnftables' stable API (LIBNFTABLES_1) we use.
static struct {
  void *lib;
  struct nft_ctx *(*ctx_new)(unsigned int flags);
  void (*ctx_free)(struct nft_ctx *ctx);
  int (*buffer_output)(struct nft_ctx *ctx);
  int (*buffer_error)(struct nft_ctx *ctx);
  const char *(*get_output)(struct nft_ctx *ctx);
  const char *(*get_error)(struct nft_ctx *ctx);
  int (*run)(struct nft_ctx *ctx, const char *buf);
} nft;

static const char *load_library(void) {
  if (nft.lib) return NULL;
  void *lib = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return dlerror();
#define SYM(field, name) \
  if (!(*(void **)&nft.field = dlsym(lib, name))) return dlerror();
  SYM(ctx_new, "nft_ctx_new")
  SYM(ctx_free, "nft_ctx_free")
  SYM(buffer_output, "nft_ctx_buffer_output")
  SYM(buffer_error, "nft_ctx_buffer_error")
  SYM(get_output, "nft_ctx_get_output_buffer")
  SYM(get_error, "nft_ctx_get_error_buffer")
  SYM(run, "nft_run_cmd_from_buffer")
#undef SYM
  nft.lib = lib;
  return NULL;
}

typedef struct {
  struct nft_ctx *ctx;
  int busy;
} Handle;

static napi_value fail(napi_env env, const char *what, const char *detail) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, detail);
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Handle *h = data;
  if (h->ctx) nft.ctx_free(h->ctx);
  free(h);
}

// Creates the context with the calling thread inside `netns` (a /run/netns path), then returns to the
// thread's own namespace: the context's netlink socket stays bound to the namespace it was opened in.
static struct nft_ctx *new_ctx_in(const char *netns, const char **err) {
  static char why[256];
  if (!netns) return nft.ctx_new(0);
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(netns, O_RDONLY | O_CLOEXEC);
  struct nft_ctx *ctx = NULL;
  if (self < 0 || target < 0) {
    snprintf(why, sizeof why, "open %s: %s", self < 0 ? "/proc/thread-self/ns/net" : netns, strerror(errno));
    *err = why;
  } else if (setns(target, CLONE_NEWNET) != 0) {
    snprintf(why, sizeof why, "setns %s: %s", netns, strerror(errno));
    *err = why;
  } else {
    ctx = nft.ctx_new(0);
    // A first command opens the socket here if this libnftables opens it lazily.
    if (ctx) {
      nft.buffer_output(ctx);
      nft.buffer_error(ctx);
      nft.run(ctx, "list tables inet");
    }
    if (setns(self, CLONE_NEWNET) != 0) abort(); // never keep this thread in a foreign namespace
  }
  if (self >= 0) close(self);
  if (target >= 0) close(target);
  return ctx;
}

// open(netnsPath?: string): handle
static napi_value open_ctx(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *err = load_library();
  if (err) return fail(env, "libnftables", err);
  char path[256] = "";
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len);
  }
  err = "nft_ctx_new failed";
  struct nft_ctx *ctx = new_ctx_in(path[0] ? path : NULL, &err);
  if (!ctx) return fail(env, "libnftables", err);
  nft.buffer_output(ctx);
  nft.buffer_error(ctx);
  Handle *h = calloc(1, sizeof *h);
  if (!h) {
    nft.ctx_free(ctx);
    return fail(env, "libnftables", "out of memory");
  }
  h->ctx = ctx;
  napi_value ext;
  napi_create_external(env, h, finalize_handle, NULL, &ext);
  return ext;
}

typedef struct {
  Handle *h;
  char *text;
  int rc;
  char *error;
  char *output;
  napi_deferred deferred;
  napi_async_work work;
  napi_ref keep;
} Job;

static void run_job(napi_env env, void *data) {
  (void)env;
  Job *j = data;
  j->rc = nft.run(j->h->ctx, j->text);
  const char *e = nft.get_error(j->h->ctx);
  const char *o = nft.get_output(j->h->ctx);
  j->error = strdup(e ? e : "");
  j->output = strdup(o ? o : "");
}

static void job_done(napi_env env, napi_status status, void *data) {
  Job *j = data;
  j->h->busy = 0;
  napi_value v;
  if (status != napi_ok || j->rc != 0) {
    napi_value msg;
    const char *text = status != napi_ok ? "transaction cancelled" : (j->error && j->error[0] ? j->error : "nft_run_cmd_from_buffer failed");
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &v);
    napi_reject_deferred(env, j->deferred, v);
  } else {
    napi_create_string_utf8(env, j->output ? j->output : "", NAPI_AUTO_LENGTH, &v);
    napi_resolve_deferred(env, j->deferred, v);
  }
  napi_delete_reference(env, j->keep);
  napi_delete_async_work(env, j->work);
  free(j->text);
  free(j->error);
  free(j->output);
  free(j);
}

// run(handle, text): Promise<string> (the output; rejects with nft's error text)
static napi_value run_ctx(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Handle *h = NULL;
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || !h) return fail(env, "run", "bad handle");
  if (h->busy) return fail(env, "run", "a transaction is already running on this context");
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok) return fail(env, "run", "text must be a string");
  Job *j = calloc(1, sizeof *j);
  if (!j || !(j->text = malloc(len + 1))) {
    free(j);
    return fail(env, "run", "out of memory");
  }
  napi_get_value_string_utf8(env, argv[1], j->text, len + 1, &len);
  j->h = h;
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  // The handle stays alive while its transaction runs.
  napi_create_reference(env, argv[0], 1, &j->keep);
  napi_create_string_utf8(env, "nft_run_cmd_from_buffer", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, run_job, job_done, j, &j->work);
  h->busy = 1;
  napi_queue_async_work(env, j->work);
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_ctx, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, run_ctx, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
