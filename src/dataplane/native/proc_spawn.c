// Runs one command to completion without fork(): posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), so its
// cost does not grow with the ~100 MB agent the way libuv's fork does; in user-mode Linux a fork of the
// agent costs ~0.2 s of CPU). Each command gets its own thread (not libuv's pool of 4: a command may wait on
// the xtables lock for a minute, and the pool also serves fs and DNS) that writes stdin, reads stdout and
// stderr, kills the child at the deadline and reaps it; the result settles a promise on the JS thread.
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct {
  char *data;
  size_t len, cap;
} buf_t;

typedef struct {
  char *file;
  char **argv;
  char **envp; // NULL: inherit environ
  char *cwd;   // NULL: inherit
  char *input;
  size_t input_len;
  double timeout_ms; // <= 0 or infinite: none
  // results
  int spawn_errno;
  int status;
  int timed_out;
  buf_t out, err;
  napi_deferred deferred;
  napi_threadsafe_function tsfn;
} job_t;

static void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

static void job_free(job_t *j) {
  free(j->file);
  free_strv(j->argv);
  free_strv(j->envp);
  free(j->cwd);
  free(j->input);
  free(j->out.data);
  free(j->err.data);
  free(j);
}

static int buf_read(int fd, buf_t *b) {
  if (b->cap - b->len < 65536) {
    size_t cap = b->cap ? b->cap * 2 : 65536;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  ssize_t n = read(fd, b->data + b->len, b->cap - b->len);
  if (n > 0) b->len += (size_t)n;
  return (int)n;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// A pipe end that must land on fd 0-2 in the child must not already be one of 0-2 (dup2 onto itself would
// keep its close-on-exec flag); this happens only when the agent runs with a standard fd closed.
static int above_stdio(int fd) {
  if (fd > 2) return fd;
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return nfd;
}

// Starts `file` with the three descriptors as its stdin, stdout and stderr (and `cwd` when set); returns
// posix_spawnp's error (0: started). Node ignores SIGPIPE and the calling thread may block signals: the
// child starts with default dispositions and an empty mask, as libuv's children do.
static int spawn_stdio(pid_t *pid, const char *file, char **argv, char **envp, const char *cwd, int in_fd, int out_fd, int err_fd) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
  posix_spawnattr_init(&at);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  int rc = posix_spawnp(pid, file, &fa, &at, argv, envp ? envp : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  return rc;
}

static void run_child(job_t *j) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    j->spawn_errno = errno;
    goto close_all;
  }
  in[0] = above_stdio(in[0]);
  out[1] = above_stdio(out[1]);
  err[1] = above_stdio(err[1]);
  if (in[0] < 0 || out[1] < 0 || err[1] < 0) {
    j->spawn_errno = errno;
    goto close_all;
  }
  pid_t pid;
  int rc = spawn_stdio(&pid, j->file, j->argv, j->envp, j->cwd, in[0], out[1], err[1]);
  close(in[0]), close(out[1]), close(err[1]);
  in[0] = out[1] = err[1] = -1;
  if (rc != 0) {
    j->spawn_errno = rc;
    goto close_all;
  }
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (j->input_len == 0) close(in[1]), in[1] = -1;
  double deadline = j->timeout_ms > 0 && j->timeout_ms < 1e15 ? now_ms() + j->timeout_ms : -1;
  // After the kill, a grandchild may still hold the pipes: read on for a moment, then stop waiting for them.
  double give_up = -1;
  while (out[0] >= 0 || err[0] >= 0) {
    struct pollfd p[3];
    int n = 0, iin = -1, iout = -1, ierr = -1;
    if (in[1] >= 0) iin = n, p[n++] = (struct pollfd){.fd = in[1], .events = POLLOUT};
    if (out[0] >= 0) iout = n, p[n++] = (struct pollfd){.fd = out[0], .events = POLLIN};
    if (err[0] >= 0) ierr = n, p[n++] = (struct pollfd){.fd = err[0], .events = POLLIN};
    int wait = -1;
    double t = now_ms();
    if (give_up >= 0) {
      if (t >= give_up) break;
      wait = (int)(give_up - t) + 1;
    } else if (deadline >= 0) {
      if (t >= deadline) {
        j->timed_out = 1;
        kill(pid, SIGKILL);
        give_up = t + 1000;
        continue;
      }
      wait = (int)(deadline - t) + 1;
    }
    int r = poll(p, (nfds_t)n, wait);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (iin >= 0 && p[iin].revents) {
      ssize_t w = (p[iin].revents & POLLOUT) ? write(in[1], j->input + written, j->input_len - written) : -1;
      if (w > 0) written += (size_t)w;
      // EPIPE (the child closed stdin without reading it all) is not an error: its exit code tells.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == j->input_len) close(in[1]), in[1] = -1;
    }
    if (iout >= 0 && p[iout].revents) {
      int k = buf_read(out[0], &j->out);
      if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN)) close(out[0]), out[0] = -1;
    }
    if (ierr >= 0 && p[ierr].revents) {
      int k = buf_read(err[0], &j->err);
      if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN)) close(err[0]), err[0] = -1;
    }
  }
  while (waitpid(pid, &j->status, 0) < 0 && errno == EINTR) {
  }
close_all:
  for (int i = 0; i < 2; i++) {
    if (in[i] >= 0) close(in[i]);
    if (out[i] >= 0) close(out[i]);
    if (err[i] >= 0) close(err[i]);
  }
}

static void *thread_main(void *arg) {
  job_t *j = arg;
  // Signals are the JS thread's business (libuv's SIGCHLD handler, SIGTERM); this thread takes none.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  run_child(j);
  // settle() frees the job, possibly before the call below returns: keep the handle.
  napi_threadsafe_function tsfn = j->tsfn;
  napi_call_threadsafe_function(tsfn, j, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

static void set_prop(napi_env env, napi_value obj, const char *k, napi_value v) { napi_set_named_property(env, obj, k, v); }

// On the JS thread: { code, signal, stdout: Buffer, stderr: Buffer, timedOut, spawnError }.
static void settle(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)cb, (void)ctx;
  job_t *j = data;
  if (env) {
    napi_value r, v;
    napi_create_object(env, &r);
    if (j->spawn_errno) {
      napi_create_string_utf8(env, strerror(j->spawn_errno), NAPI_AUTO_LENGTH, &v);
      set_prop(env, r, "spawnError", v);
      napi_create_int32(env, j->spawn_errno, &v);
      set_prop(env, r, "errno", v);
    } else {
      if (WIFEXITED(j->status)) napi_create_int32(env, WEXITSTATUS(j->status), &v);
      else napi_get_null(env, &v);
      set_prop(env, r, "code", v);
      if (WIFSIGNALED(j->status)) napi_create_int32(env, WTERMSIG(j->status), &v);
      else napi_get_null(env, &v);
      set_prop(env, r, "signal", v);
    }
    void *p;
    napi_create_buffer_copy(env, j->out.len, j->out.len ? j->out.data : "", &p, &v);
    set_prop(env, r, "stdout", v);
    napi_create_buffer_copy(env, j->err.len, j->err.len ? j->err.data : "", &p, &v);
    set_prop(env, r, "stderr", v);
    napi_get_boolean(env, j->timed_out, &v);
    set_prop(env, r, "timedOut", v);
    napi_resolve_deferred(env, j->deferred, r);
  }
  job_free(j);
}

static char *dup_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static char **dup_strv(napi_env env, napi_value arr) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, arr, i, &e);
    if (!(v[i] = dup_string(env, e))) {
      free_strv(v);
      return NULL;
    }
  }
  return v;
}

static int is_type(napi_env env, napi_value v, napi_valuetype t) {
  napi_valuetype got;
  return napi_typeof(env, v, &got) == napi_ok && got == t;
}

// run(file: string, argv: string[], env: string[] | null, cwd: string | null, input: Buffer | null,
//     timeoutMs: number): Promise<result>. argv[0] is the program name the child sees.
static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 6 || !is_type(env, a[0], napi_string)) {
    napi_throw_type_error(env, NULL, "run(file, argv, env, cwd, input, timeoutMs)");
    return NULL;
  }
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->file = dup_string(env, a[0]);
  j->argv = dup_strv(env, a[1]);
  if (!is_type(env, a[2], napi_null)) j->envp = dup_strv(env, a[2]);
  if (!is_type(env, a[3], napi_null)) j->cwd = dup_string(env, a[3]);
  bool isbuf = false;
  napi_is_buffer(env, a[4], &isbuf);
  if (isbuf) {
    void *d;
    size_t n;
    napi_get_buffer_info(env, a[4], &d, &n);
    if (n && (j->input = malloc(n))) memcpy(j->input, d, n), j->input_len = n;
  }
  napi_get_value_double(env, a[5], &j->timeout_ms);
  if (!j->file || !j->argv || (!is_type(env, a[2], napi_null) && !j->envp)) {
    job_free(j);
    napi_throw_error(env, NULL, "run: bad arguments");
    return NULL;
  }
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "krt-spawn", NAPI_AUTO_LENGTH, &name);
  // The threadsafe function keeps the event loop alive until the result is in, as a child's handle would.
  napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, settle, &j->tsfn);
  pthread_attr_t ta;
  pthread_attr_init(&ta);
  pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&ta, 256 * 1024);
  pthread_t t;
  int rc = pthread_create(&t, &ta, thread_main, j);
  pthread_attr_destroy(&ta);
  if (rc != 0) {
    j->spawn_errno = rc;
    napi_release_threadsafe_function(j->tsfn, napi_tsfn_release);
    settle(env, NULL, NULL, j);
  }
  return promise;
}

// --- A long-lived child (`ip monitor`): its stdout is a pipe handed to JS, its exit a callback. ---

typedef struct {
  pid_t pid;
  napi_threadsafe_function tsfn;
} watch_t;

// Waits for the exit without reaping it (WNOWAIT): until JS calls reap(), the pid stays this child's, so a
// kill() from JS can never reach a process that reused the number.
static void *watch_main(void *arg) {
  watch_t *w = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  siginfo_t si;
  while (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  napi_threadsafe_function tsfn = w->tsfn;
  napi_call_threadsafe_function(tsfn, w, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

static void call_exit(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)ctx;
  if (env && cb) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 0, NULL, NULL);
  }
  free(data);
}

// start(file, argv, env: string[] | null, onExit: () => void): { pid, fd } -- stdin and stderr /dev/null,
// fd the read end of its stdout; onExit runs once it has exited (then reap(pid)). Throws if it cannot start.
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 4 || !is_type(env, a[0], napi_string) || !is_type(env, a[3], napi_function)) {
    napi_throw_type_error(env, NULL, "start(file, argv, env, onExit)");
    return NULL;
  }
  char *file = dup_string(env, a[0]);
  char **argv = dup_strv(env, a[1]);
  char **envp = is_type(env, a[2], napi_null) ? NULL : dup_strv(env, a[2]);
  int out[2] = {-1, -1}, devnull = -1, err = 0;
  pid_t pid = -1;
  if (!file || !argv || (!is_type(env, a[2], napi_null) && !envp)) err = EINVAL;
  else if (pipe2(out, O_CLOEXEC) < 0 || (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) err = errno;
  else if ((out[1] = above_stdio(out[1])) < 0 || (devnull = above_stdio(devnull)) < 0) err = errno;
  if (!err) err = spawn_stdio(&pid, file, argv, envp, NULL, devnull, out[1], devnull);
  free(file);
  free_strv(argv);
  free_strv(envp);
  if (out[1] >= 0) close(out[1]);
  if (devnull >= 0) close(devnull);
  if (err) {
    if (out[0] >= 0) close(out[0]);
    char msg[200];
    snprintf(msg, sizeof msg, "spawn: %s", strerror(err));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  watch_t *w = calloc(1, sizeof *w);
  napi_value name, r, v;
  napi_create_string_utf8(env, "krt-spawn-watch", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, a[3], NULL, name, 0, 1, NULL, NULL, NULL, call_exit, &w->tsfn);
  // Like an unref'd ChildProcess: the child alone does not keep the event loop alive.
  napi_unref_threadsafe_function(env, w->tsfn);
  w->pid = pid;
  pthread_attr_t ta;
  pthread_attr_init(&ta);
  pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&ta, 64 * 1024);
  pthread_t t;
  if (pthread_create(&t, &ta, watch_main, w) != 0) {
    // No watcher: the exit is never reported (the child is still killable and reapable).
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
    free(w);
  }
  pthread_attr_destroy(&ta);
  napi_create_object(env, &r);
  napi_create_int32(env, pid, &v);
  set_prop(env, r, "pid", v);
  napi_create_int32(env, out[0], &v);
  set_prop(env, r, "fd", v);
  return r;
}

// reap(pid): { code, signal } of an exited child from start() (null fields if it has not exited).
static napi_value reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1], r, v;
  int32_t pid = 0;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, a[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "reap(pid)");
    return NULL;
  }
  int status = 0;
  pid_t got;
  while ((got = waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  napi_create_object(env, &r);
  if (got == pid && WIFEXITED(status)) napi_create_int32(env, WEXITSTATUS(status), &v);
  else napi_get_null(env, &v);
  set_prop(env, r, "code", v);
  if (got == pid && WIFSIGNALED(status)) napi_create_int32(env, WTERMSIG(status), &v);
  else napi_get_null(env, &v);
  set_prop(env, r, "signal", v);
  return r;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "run", NAPI_AUTO_LENGTH, run, NULL, &fn);
  napi_set_named_property(env, exports, "run", fn);
  napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &fn);
  napi_set_named_property(env, exports, "start", fn);
  napi_create_function(env, "reap", NAPI_AUTO_LENGTH, reap, NULL, &fn);
  napi_set_named_property(env, exports, "reap", fn);
  return exports;
}
