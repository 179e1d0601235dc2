// The socket half of the IPVS generic-netlink writer: one resident NETLINK_GENERIC socket and one call that
// sends a buffer of ready-made requests and returns every reply to them. The messages themselves are built
// and parsed in TypeScript (../netlink-codec.ts), where they are unit-tested; this file only moves bytes.
//   open(): void                      socket, bind, small acks (NETLINK_CAP_ACK), a large receive buffer
//   exchange(requests: Buffer): Buffer
//       sends all requests in one send(); each one ends in exactly one NLMSG_ERROR (its ack) or NLMSG_DONE
//       (a dump); reads until every request has ended and returns the replies concatenated. Replies with
//       another sequence number (left over from an exchange that failed) are dropped.
//   close(): void
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

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static int fd = -1;

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static void close_fd(void) {
  if (fd >= 0) close(fd);
  fd = -1;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  (void)info;
  if (fd >= 0) return NULL;
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd < 0) return fail(env, "socket(NETLINK_GENERIC)", errno);
  int one = 1;
  // Acks without a copy of the request: thousands of them fit the receive buffer.
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  int rcv = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  // A kernel that never answers must not hang the agent: the exchange fails and the socket is reopened.
  struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close_fd();
    return fail(env, "bind(NETLINK_GENERIC)", e);
  }
  return NULL;
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  (void)env, (void)info;
  close_fd();
  return NULL;
}

struct growbuf {
  char *p;
  size_t len, cap;
};

static int append(struct growbuf *b, const void *data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return ENOMEM;
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  return 0;
}

static napi_value exchange(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool isbuf = false;
  if (argc < 1 || napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf) return fail(env, "exchange", EINVAL);
  if (fd < 0) return fail(env, "exchange", EBADF);
  char *req;
  size_t reqlen;
  napi_get_buffer_info(env, argv[0], (void **)&req, &reqlen);

  // The requests' sequence numbers: consecutive, from the first message's.
  uint32_t first = 0, count = 0;
  for (size_t off = 0; off + NLMSG_HDRLEN <= reqlen;) {
    struct nlmsghdr *h = (struct nlmsghdr *)(req + off);
    if (h->nlmsg_len < NLMSG_HDRLEN || off + h->nlmsg_len > reqlen) return fail(env, "exchange: malformed request", EINVAL);
    if (count == 0) first = h->nlmsg_seq;
    else if (h->nlmsg_seq != first + count) return fail(env, "exchange: sequence numbers must be consecutive", EINVAL);
    count++;
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  if (count == 0) return fail(env, "exchange: no request", EINVAL);

  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, req, reqlen, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    int e = errno;
    close_fd();
    return fail(env, "netlink send", e);
  }
  struct growbuf out = {0};
  static char in[1 << 16];
  uint32_t ended = 0;
  while (ended < count) {
    ssize_t n = recv(fd, in, sizeof in, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      // ENOBUFS (replies were lost) or a timeout: what the kernel did is unknown, start afresh next time.
      close_fd();
      free(out.p);
      return fail(env, "netlink receive", e);
    }
    size_t left = (size_t)n;
    for (struct nlmsghdr *m = (struct nlmsghdr *)in; NLMSG_OK(m, left); m = NLMSG_NEXT(m, left)) {
      if (m->nlmsg_seq - first >= count) continue;
      if (m->nlmsg_type == NLMSG_ERROR || m->nlmsg_type == NLMSG_DONE) ended++;
      // Each reply at an aligned offset, as the parser walks them.
      static const char pad[NLMSG_ALIGNTO] = {0};
      int e = append(&out, m, m->nlmsg_len);
      if (!e) e = append(&out, pad, NLMSG_ALIGN(m->nlmsg_len) - m->nlmsg_len);
      if (e) {
        free(out.p);
        return fail(env, "exchange", e);
      }
    }
  }
  napi_value result;
  napi_status st = napi_create_buffer_copy(env, out.len, out.len ? out.p : "", NULL, &result);
  free(out.p);
  if (st != napi_ok) return fail(env, "exchange: result buffer", ENOMEM);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
      {"exchange", NULL, exchange, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof *props, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
