// Resident netfilter writers for the firewall: a libnftables context (native backend: each sync's
// transaction without spawning `nft`) and a libipset session (iptables backends: small ipset batches
// without spawning `ipset`; a spawn costs 10-15 ms, more than the change), plus our own netlink writer
// for the cold ipset fill (below: libipset's per-entry name lookups are most of a 40,000-entry fill).
// Both libraries are opened with dlopen, so the addon builds without their -dev headers (the kernel's
// UAPI headers, which every C toolchain has, give the ipset message format) and a host without them
// still builds it; open then fails and the caller falls back to the binaries.
// An nft transaction runs on a libuv worker thread (a full-table load must not stall the event loop);
// ipset lines run inline (callers send small batches only); the bulk fill runs on a worker too.
#define _GNU_SOURCE
#include <node_api.h>
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/ipset/ip_set_hash.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
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
  /** The /run/netns path the context belongs to ("" for the process's own namespace). */
  char netns[256];
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

// Runs `make` with the calling thread inside `netns` (a /run/netns path; NULL: stay), then returns the
// thread to its own namespace; sockets opened by `make` stay bound to the namespace they were opened in.
static void *in_netns(const char *netns, void *(*make)(void *), void *arg, const char **err) {
  static __thread char why[256];
  if (!netns) return make(arg);
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(netns, O_RDONLY | O_CLOEXEC);
  void *made = NULL;
  if (self < 0 || target < 0) {
    snprintf(why, sizeof why, "open %s: %s", self < 0 ? "/proc/thread-self/ns/net" : netns, strerror(errno));
    *err = why;
  } else if (setns(target, CLONE_NEWNET) != 0) {
    snprintf(why, sizeof why, "setns %s: %s", netns, strerror(errno));
    *err = why;
  } else {
    made = make(arg);
    if (setns(self, CLONE_NEWNET) != 0) abort(); // never keep this thread in a foreign namespace
  }
  if (self >= 0) close(self);
  if (target >= 0) close(target);
  return made;
}

static void *make_nft_ctx(void *arg) {
  (void)arg;
  struct nft_ctx *ctx = nft.ctx_new(0);
  // A first command opens the socket here if this libnftables opens it lazily.
  if (ctx) {
    nft.buffer_output(ctx);
    nft.buffer_error(ctx);
    nft.run(ctx, "list tables inet");
  }
  return ctx;
}

static void path_arg(napi_env env, size_t argc, napi_value *argv, char *path, size_t size) {
  napi_valuetype t = napi_undefined;
  path[0] = '\0';
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[0], path, size, &len);
  }
}

// open(netnsPath?: string): handle
static napi_value open_ctx(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *err = load_library();
  if (err) return fail(env, "libnftables", err);
  char path[256];
  path_arg(env, argc, argv, path, sizeof path);
  err = "nft_ctx_new failed";
  struct nft_ctx *ctx = in_netns(path[0] ? path : NULL, make_nft_ctx, NULL, &err);
  if (!ctx) return fail(env, "libnftables", err);
  nft.buffer_output(ctx);
  nft.buffer_error(ctx);
  Handle *h = calloc(1, sizeof *h);
  if (!h) {
    nft.ctx_free(ctx);
    return fail(env, "libnftables", "out of memory");
  }
  h->ctx = ctx;
  snprintf(h->netns, sizeof h->netns, "%s", path);
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

static void *run_in_ns(void *data) {
  Job *j = data;
  j->rc = nft.run(j->h->ctx, j->text);
  return j;
}

static void run_job(napi_env env, void *data) {
  (void)env;
  Job *j = data;
  // In the context's namespace, should libnftables ever reopen its socket (it does after some errors).
  const char *err = NULL;
  if (!in_netns(j->h->netns[0] ? j->h->netns : NULL, run_in_ns, j, &err)) {
    j->rc = -1;
    j->error = strdup(err ? err : "setns failed");
    j->output = strdup("");
    return;
  }
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


// ---- libipset ----

struct ipset;
struct ipset_session;
typedef int (*ipset_custom_errorfn)(struct ipset *ipset, void *p, int status, const char *msg, ...);
typedef int (*ipset_standard_errorfn)(struct ipset *ipset, void *p);
typedef int (*ipset_print_outfn)(struct ipset_session *session, void *p, const char *fmt, ...);
enum { IPSET_ERR_TYPE_WARNING = 1 }; // enum ipset_err_type (libipset 7): NO_ERROR, WARNING, NOTICE, ERROR

static struct {
  void *lib;
  void (*load_types)(void);
  struct ipset *(*init)(void);
  int (*fini)(struct ipset *ipset);
  int (*custom_printf)(struct ipset *ipset, ipset_custom_errorfn, ipset_standard_errorfn, ipset_print_outfn, void *p);
  int (*parse_line)(struct ipset *ipset, char *line);
  struct ipset_session *(*session)(struct ipset *ipset);
  const char *(*report_msg)(const struct ipset_session *session);
  int (*report_type)(const struct ipset_session *session);
  void (*report_reset)(struct ipset_session *session);
} ips;

static const char *load_ipset(void) {
  if (ips.lib) return NULL;
  void *lib = dlopen("libipset.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return dlerror();
#define SYM(field, name) \
  if (!(*(void **)&ips.field = dlsym(lib, name))) return dlerror();
  SYM(load_types, "ipset_load_types")
  SYM(init, "ipset_init")
  SYM(fini, "ipset_fini")
  SYM(custom_printf, "ipset_custom_printf")
  SYM(parse_line, "ipset_parse_line")
  SYM(session, "ipset_session")
  SYM(report_msg, "ipset_session_report_msg")
  SYM(report_type, "ipset_session_report_type")
  SYM(report_reset, "ipset_session_report_reset")
#undef SYM
  ips.load_types();
  ips.lib = lib;
  return NULL;
}

typedef struct {
  struct ipset *ipset;
  /** The /run/netns path every command runs in ("" for the process's own namespace). */
  char netns[256];
  char error[1024];
  /** While ipsetSave runs: what libipset prints, collected (NULL otherwise: output discarded). */
  char *out;
  size_t out_len, out_cap;
  int out_failed;
} IpsetHandle;

// The library's own error handlers print and exit() the process outside its interactive CLI: ours
// record the message and return, and the caller throws it.
static int ipset_custom_error(struct ipset *ipset, void *p, int status, const char *msg, ...) {
  IpsetHandle *h = p;
  if (status && msg && !h->error[0]) {
    va_list args;
    va_start(args, msg);
    vsnprintf(h->error, sizeof h->error, msg, args);
    va_end(args);
  }
  struct ipset_session *s = ips.session(ipset);
  if (s) ips.report_reset(s);
  return -1;
}

static int ipset_standard_error(struct ipset *ipset, void *p) {
  IpsetHandle *h = p;
  struct ipset_session *s = ips.session(ipset);
  // Warnings are not errors; notices and errors are (the ipset binary's exit codes say the same).
  if (ips.report_type(s) > IPSET_ERR_TYPE_WARNING && !h->error[0]) snprintf(h->error, sizeof h->error, "%s", ips.report_msg(s));
  ips.report_reset(s);
  return -1;
}

// What libipset prints (a save's lines): kept while ipsetSave collects it, dropped otherwise.
static int ipset_output(struct ipset_session *session, void *p, const char *fmt, ...) {
  (void)session;
  IpsetHandle *h = p;
  if (!h->out || h->out_failed) return 0;
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(NULL, 0, fmt, args);
  va_end(args);
  if (n <= 0) return 0;
  if (h->out_len + (size_t)n + 1 > h->out_cap) {
    size_t cap = h->out_cap * 2;
    while (cap < h->out_len + (size_t)n + 1) cap *= 2;
    char *q = realloc(h->out, cap);
    if (!q) {
      h->out_failed = 1;
      return 0;
    }
    h->out = q, h->out_cap = cap;
  }
  va_start(args, fmt);
  vsnprintf(h->out + h->out_len, (size_t)n + 1, fmt, args);
  va_end(args);
  h->out_len += (size_t)n;
  return 0;
}

static void finalize_ipset(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  IpsetHandle *h = data;
  if (h->ipset) ips.fini(h->ipset);
  free(h);
}

static void *make_ipset(void *arg) {
  (void)arg;
  return ips.init();
}

// ipsetOpen(netnsPath?: string): handle
static napi_value ipset_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const char *err = load_ipset();
  if (err) return fail(env, "libipset", err);
  char path[256];
  path_arg(env, argc, argv, path, sizeof path);
  err = "ipset_init failed";
  struct ipset *ipset = in_netns(path[0] ? path : NULL, make_ipset, NULL, &err);
  if (!ipset) return fail(env, "libipset", err);
  IpsetHandle *h = calloc(1, sizeof *h);
  if (!h) {
    ips.fini(ipset);
    return fail(env, "libipset", "out of memory");
  }
  h->ipset = ipset;
  snprintf(h->netns, sizeof h->netns, "%s", path);
  ips.custom_printf(ipset, ipset_custom_error, ipset_standard_error, ipset_output, h);
  napi_value ext;
  napi_create_external(env, h, finalize_ipset, NULL, &ext);
  return ext;
}

typedef struct {
  IpsetHandle *h;
  char **lines;
  uint32_t n;
  uint32_t failed; // 1-based line that failed, 0 if none
} IpsetBatch;

// libipset opens its netlink socket when a command needs it, not at init: every batch runs with the
// thread inside the handle's namespace, so no command can reach another one.
static void *run_ipset_batch(void *arg) {
  IpsetBatch *b = arg;
  for (uint32_t i = 0; i < b->n; i++) {
    b->h->error[0] = '\0';
    if (ips.parse_line(b->h->ipset, b->lines[i]) < 0 || b->h->error[0]) {
      b->failed = i + 1;
      break;
    }
  }
  return b;
}

// ipsetRun(handle, lines: string[]): void; each line an `ipset restore` line, run with -exist, in order;
// throws at the first that fails (the earlier ones stay applied, as with `ipset restore`).
static napi_value ipset_run(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  IpsetHandle *h = NULL;
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || !h) return fail(env, "ipset", "bad handle");
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok) return fail(env, "ipset", "lines must be an array");
  static const char prefix[] = "-exist ";
  IpsetBatch b = {h, calloc(n ? n : 1, sizeof(char *)), n, 0};
  if (!b.lines) return fail(env, "ipset", "out of memory");
  const char *err = NULL;
  for (uint32_t i = 0; i < n && !err; i++) {
    napi_value v;
    size_t len = 0;
    napi_get_element(env, argv[1], i, &v);
    if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) err = "lines must be strings";
    else if (len > 1000) err = "line too long";
    else if (!(b.lines[i] = malloc(sizeof prefix + len))) err = "out of memory";
    else {
      memcpy(b.lines[i], prefix, sizeof prefix - 1);
      napi_get_value_string_utf8(env, v, b.lines[i] + sizeof prefix - 1, len + 1, &len);
    }
  }
  char msg[1200] = "";
  if (!err) {
    const char *nserr = "setns failed";
    if (!in_netns(h->netns[0] ? h->netns : NULL, run_ipset_batch, &b, &nserr)) snprintf(msg, sizeof msg, "%s", nserr);
    else if (b.failed) snprintf(msg, sizeof msg, "%s (line %u: %s)", h->error[0] ? h->error : "ipset command failed", b.failed, b.lines[b.failed - 1] + sizeof prefix - 1);
  } else snprintf(msg, sizeof msg, "%s", err);
  for (uint32_t i = 0; i < n; i++) free(b.lines[i]);
  free(b.lines);
  if (msg[0]) napi_throw_error(env, NULL, msg);
  return NULL;
}

static void *run_ipset_save(void *arg) {
  IpsetHandle *h = arg;
  char line[] = "save";
  h->error[0] = '\0';
  if (ips.parse_line(h->ipset, line) < 0 && !h->error[0]) snprintf(h->error, sizeof h->error, "ipset save failed");
  return h;
}

// ipsetSave(handle): string; what `ipset save` prints (every set, its header and members), read over the
// session's netlink socket in the handle's namespace.
static napi_value ipset_save(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  IpsetHandle *h = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || !h) return fail(env, "ipset", "bad handle");
  h->out_cap = 65536;
  h->out_len = 0;
  h->out_failed = 0;
  if (!(h->out = malloc(h->out_cap))) return fail(env, "ipset", "out of memory");
  h->out[0] = '\0';
  const char *nserr = "setns failed";
  char msg[1100] = "";
  if (!in_netns(h->netns[0] ? h->netns : NULL, run_ipset_save, h, &nserr)) snprintf(msg, sizeof msg, "%s", nserr);
  else if (h->error[0]) snprintf(msg, sizeof msg, "%s", h->error);
  else if (h->out_failed) snprintf(msg, sizeof msg, "out of memory");
  napi_value result = NULL;
  if (!msg[0] && napi_create_string_utf8(env, h->out, h->out_len, &result) != napi_ok) snprintf(msg, sizeof msg, "result string");
  free(h->out);
  h->out = NULL;
  if (msg[0]) return fail(env, "ipset save", msg);
  return result;
}

// ---- the bulk ipset fill: our own netlink messages ----
// A full load adds ~40,000 elements. libipset parses each one as text, and resolves every address
// (getaddrinfo), every protocol (getprotobyname) and every port (getservbyname, tried before the number),
// each lookup reopening /etc files: ~2/3 of `ipset restore`'s time. Our entries are already canonical
// (the compiler's: an address, a net with an optional `nomatch`, or `address,proto:port`), so this path
// writes the kernel's messages itself: one IPSET_CMD_ADD per run of lines for the same set, its elements
// nested in IPSET_ATTR_ADT as `ipset restore` batches them, without NLM_F_EXCL (that is -exist). It runs
// on a libuv worker, the socket opened in the handle's namespace. The sets must exist: the `create`
// lines `ipset restore` needs to batch are skipped.

#define FILL_MSG_MAX 32768

typedef struct {
  char *buf;
  size_t len;
} NlBuf;

static void *nl_put(NlBuf *b, uint16_t type, const void *data, size_t size) {
  struct nlattr *a = (struct nlattr *)(b->buf + b->len);
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + size;
  if (size) memcpy((char *)a + NLA_HDRLEN, data, size);
  b->len += NLA_ALIGN(a->nla_len);
  return a;
}

static struct nlattr *nl_nest(NlBuf *b, uint16_t type) { return nl_put(b, type | NLA_F_NESTED, NULL, 0); }

static void nl_end(NlBuf *b, struct nlattr *a) { a->nla_len = (b->buf + b->len) - (char *)a; }

typedef struct {
  int v6;
  uint8_t addr[16];
  int cidr;      // -1: none
  int nomatch;
  int proto;     // -1: none
  uint16_t port;
} Elem;

// "ADDR", "ADDR/N", "ADDR/N nomatch", "ADDR,PROTO:PORT" (PROTO tcp, udp or sctp). 0 on success.
static int parse_elem(const char *text, Elem *e) {
  char buf[128];
  size_t n = strlen(text);
  if (n >= sizeof buf) return -1;
  memcpy(buf, text, n + 1);
  e->cidr = -1;
  e->nomatch = 0;
  e->proto = -1;
  e->port = 0;
  char *sp = strchr(buf, ' ');
  if (sp) {
    if (strcmp(sp + 1, "nomatch") != 0) return -1;
    e->nomatch = 1;
    *sp = '\0';
  }
  char *comma = strchr(buf, ',');
  if (comma) {
    *comma = '\0';
    char *colon = strchr(comma + 1, ':');
    if (!colon) return -1;
    *colon = '\0';
    const char *p = comma + 1;
    e->proto = !strcmp(p, "tcp") ? IPPROTO_TCP : !strcmp(p, "udp") ? IPPROTO_UDP : !strcmp(p, "sctp") ? IPPROTO_SCTP : -1;
    if (e->proto < 0) return -1;
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port > 65535) return -1;
    e->port = port;
  }
  char *slash = strchr(buf, '/');
  if (slash) {
    *slash = '\0';
    char *end;
    unsigned long c = strtoul(slash + 1, &end, 10);
    if (*end || end == slash + 1 || c > 128) return -1;
    e->cidr = c;
  }
  e->v6 = strchr(buf, ':') != NULL;
  if (inet_pton(e->v6 ? AF_INET6 : AF_INET, buf, e->addr) != 1) return -1;
  if (!e->v6 && e->cidr > 32) return -1;
  return 0;
}

typedef struct {
  IpsetHandle *h;
  char **lines;
  uint32_t n;
  int fd;
  uint32_t seq;
  char msg[512];
  napi_deferred deferred;
  napi_async_work work;
  napi_ref keep;
} FillJob;

static void *open_nl(void *arg) {
  (void)arg;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return NULL;
  int one = 1;
  // Errors echo only the header, not our 32 KB message.
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return NULL;
  }
  return (void *)(intptr_t)(fd + 1);
}

static const char *ipset_errtext(int code) {
  switch (code) {
    case IPSET_ERR_PROTOCOL: return "kernel refused the message (protocol error)";
    case IPSET_ERR_TYPE_MISMATCH: return "the entry does not fit the set's type";
    case IPSET_ERR_INVALID_CIDR: return "invalid CIDR";
    case IPSET_ERR_INVALID_FAMILY: return "the entry's family is not the set's";
    case IPSET_ERR_HASH_FULL: return "the set is full (maxelem)";
    case ENOENT: return "the set does not exist";
    default: return code < IPSET_ERR_PRIVATE ? strerror(code) : "ipset error";
  }
}

// Sends the messages in b (one send) and reads acknowledgements until `count` of those numbered from
// `first_seq` have come, or one is a refusal. 0: all acknowledged; > 0: the errno the kernel refused
// message *bad with; -1: the send or a receive failed (the reason in msg).
static int nl_send_acked(int fd, const NlBuf *b, uint32_t first_seq, uint32_t count, uint32_t *bad, char *msg, size_t size, const char *what) {
  if (send(fd, b->buf, b->len, 0) != (ssize_t)b->len) {
    snprintf(msg, size, "%s netlink send: %s", what, strerror(errno));
    return -1;
  }
  char rb[8192];
  uint32_t acked = 0;
  while (acked < count) {
    ssize_t r = recv(fd, rb, sizeof rb, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      snprintf(msg, size, "%s netlink recv: %s", what, strerror(errno));
      return -1;
    }
    for (struct nlmsghdr *m = (struct nlmsghdr *)rb; NLMSG_OK(m, (size_t)r); m = NLMSG_NEXT(m, r)) {
      if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_seq - first_seq >= count) continue;
      struct nlmsgerr *err = NLMSG_DATA(m);
      if (err->error != 0) {
        *bad = m->nlmsg_seq;
        return -err->error;
      }
      acked++;
    }
  }
  return 0;
}

// Sends one ADD message (b holds it, header first) and waits for its ACK. 0, or an error in j->msg.
static int fill_send(FillJob *j, NlBuf *b, const char *set, uint32_t first_line) {
  struct nlmsghdr *nlh = (struct nlmsghdr *)b->buf;
  nlh->nlmsg_len = b->len;
  uint32_t bad = 0;
  int code = nl_send_acked(j->fd, b, nlh->nlmsg_seq, 1, &bad, j->msg, sizeof j->msg, "ipset");
  if (code > 0) snprintf(j->msg, sizeof j->msg, "set %s: %s (error %d, a line from %u on)", set, ipset_errtext(code), code, first_line);
  return code == 0 ? 0 : -1;
}

static void *fill_in_ns(void *arg) {
  FillJob *j = arg;
  void *fdp = open_nl(NULL);
  if (!fdp) {
    snprintf(j->msg, sizeof j->msg, "ipset netlink socket: %s", strerror(errno));
    return j;
  }
  j->fd = (int)(intptr_t)fdp - 1;
  NlBuf b = {malloc(FILL_MSG_MAX + 1024), 0};
  if (!b.buf) {
    snprintf(j->msg, sizeof j->msg, "out of memory");
    close(j->fd);
    return j;
  }
  char set[IPSET_MAXNAMELEN] = "";
  struct nlattr *adt = NULL;
  uint32_t first = 0, count = 0;
  for (uint32_t i = 0; i <= j->n && !j->msg[0]; i++) {
    const char *line = i < j->n ? j->lines[i] : NULL;
    if (line && !strncmp(line, "create ", 7)) continue;
    const char *name = NULL, *entry = NULL;
    size_t nlen = 0;
    if (line) {
      if (strncmp(line, "add ", 4) != 0 || !(entry = strchr(line + 4, ' '))) {
        snprintf(j->msg, sizeof j->msg, "line %u: not an add line: %.200s", i + 1, line);
        break;
      }
      name = line + 4;
      nlen = entry - name;
      entry++;
      if (nlen == 0 || nlen >= IPSET_MAXNAMELEN) {
        snprintf(j->msg, sizeof j->msg, "line %u: bad set name", i + 1);
        break;
      }
    }
    // Flush the message at the end, on another set, or when full.
    int other = line && (strncmp(set, name, nlen) != 0 || set[nlen] != '\0');
    if (count > 0 && (!line || other || b.len > FILL_MSG_MAX)) {
      nl_end(&b, adt);
      if (fill_send(j, &b, set, first) != 0) break;
      count = 0;
    }
    if (!line) break;
    Elem e;
    if (parse_elem(entry, &e) != 0) {
      snprintf(j->msg, sizeof j->msg, "line %u: cannot parse entry %.200s", i + 1, entry);
      break;
    }
    if (count == 0) {
      memcpy(set, name, nlen);
      set[nlen] = '\0';
      first = i + 1;
      memset(b.buf, 0, NLMSG_HDRLEN + sizeof(struct nfgenmsg));
      struct nlmsghdr *nlh = (struct nlmsghdr *)b.buf;
      nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_ADD;
      nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
      nlh->nlmsg_seq = ++j->seq;
      struct nfgenmsg *g = (struct nfgenmsg *)(b.buf + NLMSG_HDRLEN);
      g->nfgen_family = e.v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
      g->version = NFNETLINK_V0;
      b.len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
      uint8_t proto = IPSET_PROTOCOL;
      nl_put(&b, IPSET_ATTR_PROTOCOL, &proto, 1);
      nl_put(&b, IPSET_ATTR_SETNAME, set, nlen + 1);
      uint32_t lineno = first;
      nl_put(&b, IPSET_ATTR_LINENO, &lineno, 4);
      adt = nl_nest(&b, IPSET_ATTR_ADT);
    }
    struct nlattr *data = nl_nest(&b, IPSET_ATTR_DATA);
    struct nlattr *ip = nl_nest(&b, IPSET_ATTR_IP);
    nl_put(&b, (e.v6 ? IPSET_ATTR_IPADDR_IPV6 : IPSET_ATTR_IPADDR_IPV4) | NLA_F_NET_BYTEORDER, e.addr, e.v6 ? 16 : 4);
    nl_end(&b, ip);
    if (e.cidr >= 0) {
      uint8_t c = e.cidr;
      nl_put(&b, IPSET_ATTR_CIDR, &c, 1);
    }
    if (e.proto >= 0) {
      uint16_t port = htons(e.port);
      uint8_t p = e.proto;
      nl_put(&b, IPSET_ATTR_PORT | NLA_F_NET_BYTEORDER, &port, 2);
      nl_put(&b, IPSET_ATTR_PROTO, &p, 1);
    }
    if (e.nomatch) {
      uint32_t flags = htonl(IPSET_FLAG_NOMATCH);
      nl_put(&b, IPSET_ATTR_CADT_FLAGS | NLA_F_NET_BYTEORDER, &flags, 4);
    }
    uint32_t lineno = i + 1;
    nl_put(&b, IPSET_ATTR_LINENO, &lineno, 4);
    nl_end(&b, data);
    count++;
  }
  free(b.buf);
  close(j->fd);
  return j;
}

static void fill_run(napi_env env, void *data) {
  (void)env;
  FillJob *j = data;
  const char *err = NULL;
  if (!in_netns(j->h->netns[0] ? j->h->netns : NULL, fill_in_ns, j, &err)) snprintf(j->msg, sizeof j->msg, "%s", err ? err : "setns failed");
}

static void fill_done(napi_env env, napi_status status, void *data) {
  FillJob *j = data;
  napi_value v;
  if (status != napi_ok || j->msg[0]) {
    napi_value msg;
    napi_create_string_utf8(env, status != napi_ok ? "fill cancelled" : j->msg, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &v);
    napi_reject_deferred(env, j->deferred, v);
  } else {
    napi_get_undefined(env, &v);
    napi_resolve_deferred(env, j->deferred, v);
  }
  napi_delete_reference(env, j->keep);
  napi_delete_async_work(env, j->work);
  for (uint32_t i = 0; i < j->n; i++) free(j->lines[i]);
  free(j->lines);
  free(j);
}

// ipsetFill(handle, lines: string[]): Promise<void>; `add SET ENTRY` lines (create lines skipped) into
// existing sets, -exist, on a worker thread. Rejects at the first message the kernel refuses (the
// earlier ones stay applied, as with `ipset restore`).
static napi_value ipset_fill(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  IpsetHandle *h = NULL;
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || !h) return fail(env, "ipset", "bad handle");
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok) return fail(env, "ipset", "lines must be an array");
  FillJob *j = calloc(1, sizeof *j);
  if (!j || !(j->lines = calloc(n ? n : 1, sizeof(char *)))) {
    free(j);
    return fail(env, "ipset", "out of memory");
  }
  j->h = h;
  j->n = n;
  const char *err = NULL;
  for (uint32_t i = 0; i < n && !err; i++) {
    napi_value v;
    size_t len = 0;
    napi_get_element(env, argv[1], i, &v);
    if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) err = "lines must be strings";
    else if (!(j->lines[i] = malloc(len + 1))) err = "out of memory";
    else napi_get_value_string_utf8(env, v, j->lines[i], len + 1, &len);
  }
  if (err) {
    for (uint32_t i = 0; i < n; i++) free(j->lines[i]);
    free(j->lines);
    free(j);
    return fail(env, "ipset", err);
  }
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_reference(env, argv[0], 1, &j->keep);
  napi_create_string_utf8(env, "ipset_fill", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, fill_run, fill_done, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}


// ---- address elements as our own nftables batch ----
// A label change or a new pod is one address added to or removed from a few `type ipv4_addr` /
// `ipv6_addr` sets. Through libnftables that is a parse plus a cache refresh (our own last transaction
// changed the ruleset generation), 2-12 ms for one element; the kernel needs microseconds. This writes
// NFT_MSG_NEWSETELEM / DELSETELEM messages for such changes in one batch (BATCH_BEGIN ... BATCH_END: the
// kernel commits all of them or none), each acknowledged, on a socket opened in the handle's namespace.
// Synchronous: a batch holds at most a few hundred small elements (the caller sends bigger ones to nft).

typedef struct {
  int del;
  int v6;
  char set[256];
  uint32_t n;
  uint8_t (*keys)[16];
} ElemOp;

static void nl_msg_begin(NlBuf *b, uint16_t type, uint16_t flags, uint32_t seq, uint8_t family, uint16_t res_id) {
  struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf + b->len);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  nlh->nlmsg_pid = 0;
  b->len += NLMSG_HDRLEN;
  struct nfgenmsg *g = (struct nfgenmsg *)(b->buf + b->len);
  g->nfgen_family = family;
  g->version = NFNETLINK_V0;
  g->res_id = htons(res_id);
  b->len += NLMSG_ALIGN(sizeof *g);
}

static void nl_msg_end(NlBuf *b, size_t start) { ((struct nlmsghdr *)(b->buf + start))->nlmsg_len = b->len - start; }

// nftElems(handle, table, ops): ops is [[del, v6, set, [address, ...]], ...]; throws with the kernel's
// reason when it refuses the batch (then nothing of it was committed).
static napi_value nft_elems(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Handle *h = NULL;
  if (argc < 3 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || !h) return fail(env, "nft elements", "bad handle");
  char table[256];
  size_t tlen = 0;
  if (napi_get_value_string_utf8(env, argv[1], table, sizeof table, &tlen) != napi_ok || tlen == 0 || tlen >= sizeof table - 1) return fail(env, "nft elements", "bad table name");
  uint32_t nops = 0;
  if (napi_get_array_length(env, argv[2], &nops) != napi_ok || nops == 0 || nops > 1024) return fail(env, "nft elements", "bad ops");
  ElemOp *ops = calloc(nops, sizeof *ops);
  if (!ops) return fail(env, "nft elements", "out of memory");
  char msg[512] = "";
  size_t need = 64;
  for (uint32_t i = 0; i < nops && !msg[0]; i++) {
    napi_value op, v;
    uint32_t flag;
    size_t slen;
    napi_get_element(env, argv[2], i, &op);
    napi_get_element(env, op, 0, &v);
    napi_get_value_uint32(env, v, &flag);
    ops[i].del = flag != 0;
    napi_get_element(env, op, 1, &v);
    napi_get_value_uint32(env, v, &flag);
    ops[i].v6 = flag != 0;
    napi_get_element(env, op, 2, &v);
    if (napi_get_value_string_utf8(env, v, ops[i].set, sizeof ops[i].set, &slen) != napi_ok || slen == 0 || slen >= sizeof ops[i].set - 1) {
      snprintf(msg, sizeof msg, "bad set name in op %u", i);
      break;
    }
    napi_value keys;
    napi_get_element(env, op, 3, &keys);
    if (napi_get_array_length(env, keys, &ops[i].n) != napi_ok || ops[i].n == 0 || ops[i].n > 4096 || !(ops[i].keys = calloc(ops[i].n, 16))) {
      snprintf(msg, sizeof msg, "bad addresses in op %u", i);
      break;
    }
    for (uint32_t k = 0; k < ops[i].n; k++) {
      char text[64];
      napi_get_element(env, keys, k, &v);
      if (napi_get_value_string_utf8(env, v, text, sizeof text, &slen) != napi_ok || inet_pton(ops[i].v6 ? AF_INET6 : AF_INET, text, ops[i].keys[k]) != 1) {
        snprintf(msg, sizeof msg, "set %s: not an IPv%d address: %.64s", ops[i].set, ops[i].v6 ? 6 : 4, text);
        break;
      }
    }
    need += 64 + 2 * 272 + (size_t)ops[i].n * 40;
  }
  NlBuf b = {.buf = msg[0] ? NULL : calloc(1, need + 64), .len = 0};
  if (!msg[0] && !b.buf) snprintf(msg, sizeof msg, "out of memory");
  int fd = -1;
  if (!msg[0]) {
    const char *nserr = "setns failed";
    void *fdp = in_netns(h->netns[0] ? h->netns : NULL, open_nl, NULL, &nserr);
    if (!fdp) snprintf(msg, sizeof msg, "netlink socket: %s", nserr);
    else fd = (int)(intptr_t)fdp - 1;
  }
  if (!msg[0]) {
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint32_t seq = 1;
    size_t at = b.len;
    nl_msg_begin(&b, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    nl_msg_end(&b, at);
    for (uint32_t i = 0; i < nops; i++) {
      at = b.len;
      uint16_t type = (NFNL_SUBSYS_NFTABLES << 8) | (ops[i].del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM);
      nl_msg_begin(&b, type, NLM_F_REQUEST | NLM_F_ACK | (ops[i].del ? 0 : NLM_F_CREATE), seq++, NFPROTO_INET, 0);
      nl_put(&b, NFTA_SET_ELEM_LIST_TABLE, table, strlen(table) + 1);
      nl_put(&b, NFTA_SET_ELEM_LIST_SET, ops[i].set, strlen(ops[i].set) + 1);
      struct nlattr *list = nl_nest(&b, NFTA_SET_ELEM_LIST_ELEMENTS);
      for (uint32_t k = 0; k < ops[i].n; k++) {
        struct nlattr *el = nl_nest(&b, NFTA_LIST_ELEM);
        struct nlattr *key = nl_nest(&b, NFTA_SET_ELEM_KEY);
        nl_put(&b, NFTA_DATA_VALUE, ops[i].keys[k], ops[i].v6 ? 16 : 4);
        nl_end(&b, key);
        nl_end(&b, el);
      }
      nl_end(&b, list);
      nl_msg_end(&b, at);
    }
    at = b.len;
    nl_msg_begin(&b, NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    nl_msg_end(&b, at);
    // One acknowledgement per element message; the first refusal names its op (sequence numbers from 2).
    uint32_t bad = 0;
    int code = nl_send_acked(fd, &b, 2, nops, &bad, msg, sizeof msg, "nft");
    if (code > 0) {
      uint32_t i = bad - 2;
      snprintf(msg, sizeof msg, "%s element of set %s: %s", ops[i].del ? "delete" : "add", ops[i].set, strerror(code));
    }
  }
  if (fd >= 0) close(fd);
  free(b.buf);
  for (uint32_t i = 0; i < nops; i++) free(ops[i].keys);
  free(ops);
  if (msg[0]) return fail(env, "nft elements", msg);
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_ctx, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, run_ctx, NULL, NULL, NULL, napi_default, NULL},
      {"ipsetOpen", NULL, ipset_open, NULL, NULL, NULL, napi_default, NULL},
      {"ipsetRun", NULL, ipset_run, NULL, NULL, NULL, napi_default, NULL},
      {"ipsetSave", NULL, ipset_save, NULL, NULL, NULL, napi_default, NULL},
      {"ipsetFill", NULL, ipset_fill, NULL, NULL, NULL, napi_default, NULL},
      {"nftElems", NULL, nft_elems, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof *props, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
