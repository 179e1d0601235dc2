// One rtnetlink dump in the calling thread's network namespace, without a process: the request is built and
// the replies parsed in TypeScript (../ip/rtnl-read.ts); this file only moves bytes. Used where a reader
// needs to know whether something exists (an address list, our policy rules, a routing table) and an `ip`
// process would cost far more than the answer (inside user-mode Linux a process start is ~0.5 s of wall time).
//   dump(request: Buffer): Buffer
//       opens a NETLINK_ROUTE socket (strict dump checking where the kernel has it, so a table filter in the
//       request is applied by the kernel), sends the one request, and returns every reply to it up to and
//       including its NLMSG_DONE or NLMSG_ERROR, concatenated at aligned offsets; the socket is closed.
#include <node_api.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value dump(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool isbuf = false;
  if (argc < 1 || napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf) return fail(env, "dump(request)", EINVAL);
  char *req;
  size_t reqlen;
  napi_get_buffer_info(env, argv[0], (void **)&req, &reqlen);
  if (reqlen < NLMSG_HDRLEN || ((struct nlmsghdr *)req)->nlmsg_len != reqlen) return fail(env, "dump: one request", EINVAL);
  uint32_t seq = ((struct nlmsghdr *)req)->nlmsg_seq;

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fail(env, "socket(NETLINK_ROUTE)", errno);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  // A kernel that never answers must not hang the agent.
  struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, req, reqlen, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    int e = errno;
    close(fd);
    return fail(env, "netlink send", e);
  }
  char *out = NULL;
  size_t len = 0, cap = 0;
  static char in[1 << 16];
  int ended = 0, err = 0;
  while (!ended && !err) {
    ssize_t n = recv(fd, in, sizeof in, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    size_t left = (size_t)n;
    for (struct nlmsghdr *m = (struct nlmsghdr *)in; NLMSG_OK(m, left); m = NLMSG_NEXT(m, left)) {
      if (m->nlmsg_seq != seq) continue;
      size_t need = len + NLMSG_ALIGN(m->nlmsg_len);
      if (need > cap) {
        size_t c = cap ? cap : 65536;
        while (c < need) c *= 2;
        char *p = realloc(out, c);
        if (!p) {
          err = ENOMEM;
          break;
        }
        out = p, cap = c;
      }
      memcpy(out + len, m, m->nlmsg_len);
      memset(out + len + m->nlmsg_len, 0, NLMSG_ALIGN(m->nlmsg_len) - m->nlmsg_len);
      len = need;
      if (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR) {
        ended = 1;
        break;
      }
    }
  }
  close(fd);
  if (err) {
    free(out);
    return fail(env, "netlink receive", err);
  }
  napi_value result;
  napi_status st = napi_create_buffer_copy(env, len, len ? out : "", NULL, &result);
  free(out);
  if (st != napi_ok) return fail(env, "dump: result buffer", ENOMEM);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"dump", NULL, dump, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof *props, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
