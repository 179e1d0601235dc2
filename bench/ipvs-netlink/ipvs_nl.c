// A minimal generic-netlink path to IPVS, for bench/proxy.ts only: what a resident socket in the agent
// would cost per operation, against a spawned `ipvsadm -R`. One socket, the IPVS family resolved once,
// then one request + one ack per operation. IPv4 TCP virtual servers in masquerade mode only.
//   open(): void                         socket + family lookup
//   service(addr, port, sched): void     IPVS_CMD_NEW_SERVICE
//   dest(cmd, vaddr, vport, raddr, rport, weight): void   cmd 'a' NEW_DEST, 'e' SET_DEST, 'd' DEL_DEST
//   flush(): void                        IPVS_CMD_FLUSH
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netfilter.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd = -1;
static uint16_t family_id;
static uint32_t seq = 1;

struct req {
  char buf[1024];
  size_t len;
};

static struct nlattr *put(struct req *r, uint16_t type, const void *data, size_t n) {
  struct nlattr *a = (struct nlattr *)(r->buf + r->len);
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + n);
  if (n) memcpy((char *)a + NLA_HDRLEN, data, n);
  r->len += NLA_ALIGN(a->nla_len);
  return a;
}
static void put_u16(struct req *r, uint16_t type, uint16_t v) { put(r, type, &v, 2); }
static void put_u32(struct req *r, uint16_t type, uint32_t v) { put(r, type, &v, 4); }
static struct nlattr *nest(struct req *r, uint16_t type) { return put(r, type | NLA_F_NESTED, NULL, 0); }
static void end(struct req *r, struct nlattr *a) { a->nla_len = (uint16_t)((r->buf + r->len) - (char *)a); }

static void start(struct req *r, uint16_t type, uint8_t cmd, uint8_t version) {
  memset(r->buf, 0, sizeof r->buf);
  struct nlmsghdr *h = (struct nlmsghdr *)r->buf;
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  h->nlmsg_seq = seq++;
  struct genlmsghdr *g = (struct genlmsghdr *)(r->buf + NLMSG_HDRLEN);
  g->cmd = cmd;
  g->version = version;
  r->len = NLMSG_HDRLEN + GENL_HDRLEN;
}

/** Sends the request and reads until its ack (or error). Returns 0 or a positive errno; `reply` gets the first data message. */
static int roundtrip(struct req *r, char *reply, size_t replylen) {
  struct nlmsghdr *h = (struct nlmsghdr *)r->buf;
  h->nlmsg_len = (uint32_t)r->len;
  if (send(fd, r->buf, r->len, 0) < 0) return errno;
  char in[8192];
  for (;;) {
    ssize_t n = recv(fd, in, sizeof in, 0);
    if (n < 0) return errno;
    for (struct nlmsghdr *m = (struct nlmsghdr *)in; NLMSG_OK(m, (size_t)n); m = NLMSG_NEXT(m, n)) {
      if (m->nlmsg_seq != h->nlmsg_seq) continue;
      if (m->nlmsg_type == NLMSG_ERROR) return -((struct nlmsgerr *)NLMSG_DATA(m))->error;
      if (reply && m->nlmsg_len <= replylen) memcpy(reply, m, m->nlmsg_len);
    }
  }
}

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  (void)info;
  if (fd >= 0) return NULL;
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd < 0) return fail(env, "socket", errno);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return fail(env, "bind", errno);
  struct req r;
  start(&r, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
  put(&r, CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME, sizeof IPVS_GENL_NAME);
  char reply[4096];
  memset(reply, 0, sizeof reply);
  int err = roundtrip(&r, reply, sizeof reply);
  if (err) return fail(env, "resolve IPVS family", err);
  struct nlmsghdr *m = (struct nlmsghdr *)reply;
  int left = (int)m->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
  for (struct nlattr *a = (struct nlattr *)(reply + NLMSG_HDRLEN + GENL_HDRLEN); left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN;
       left -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
    if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID) memcpy(&family_id, (char *)a + NLA_HDRLEN, 2);
  }
  if (!family_id) return fail(env, "resolve IPVS family", ENOENT);
  return NULL;
}

static int get_str(napi_env env, napi_value v, char *out, size_t n) {
  size_t len;
  return napi_get_value_string_utf8(env, v, out, n, &len) == napi_ok;
}
static int get_u32(napi_env env, napi_value v, uint32_t *out) { return napi_get_value_uint32(env, v, out) == napi_ok; }

/** The service identity (AF, protocol, address, port) inside IPVS_CMD_ATTR_SERVICE. */
static int service_id(struct req *r, const char *addr, uint32_t port) {
  union nf_inet_addr a;
  memset(&a, 0, sizeof a);
  if (inet_pton(AF_INET, addr, &a.in) != 1) return 0;
  put_u16(r, IPVS_SVC_ATTR_AF, AF_INET);
  put_u16(r, IPVS_SVC_ATTR_PROTOCOL, IPPROTO_TCP);
  put(r, IPVS_SVC_ATTR_ADDR, &a, sizeof a);
  put_u16(r, IPVS_SVC_ATTR_PORT, htons((uint16_t)port));
  return 1;
}

static napi_value new_service(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char addr[64], sched[IP_VS_SCHEDNAME_MAXLEN];
  uint32_t port;
  if (argc < 3 || !get_str(env, argv[0], addr, sizeof addr) || !get_u32(env, argv[1], &port) || !get_str(env, argv[2], sched, sizeof sched)) return fail(env, "service", EINVAL);
  struct req r;
  start(&r, family_id, IPVS_CMD_NEW_SERVICE, IPVS_GENL_VERSION);
  struct nlattr *s = nest(&r, IPVS_CMD_ATTR_SERVICE);
  if (!service_id(&r, addr, port)) return fail(env, "service address", EINVAL);
  put(&r, IPVS_SVC_ATTR_SCHED_NAME, sched, strlen(sched) + 1);
  struct ip_vs_flags flags = {0, ~0u};
  put(&r, IPVS_SVC_ATTR_FLAGS, &flags, sizeof flags);
  put_u32(&r, IPVS_SVC_ATTR_TIMEOUT, 0);
  put_u32(&r, IPVS_SVC_ATTR_NETMASK, 0xffffffff);
  end(&r, s);
  int err = roundtrip(&r, NULL, 0);
  return err ? fail(env, "IPVS_CMD_NEW_SERVICE", err) : NULL;
}

static napi_value dest(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char cmd[4], vaddr[64], raddr[64];
  uint32_t vport, rport, weight;
  if (argc < 6 || !get_str(env, argv[0], cmd, sizeof cmd) || !get_str(env, argv[1], vaddr, sizeof vaddr) || !get_u32(env, argv[2], &vport) ||
      !get_str(env, argv[3], raddr, sizeof raddr) || !get_u32(env, argv[4], &rport) || !get_u32(env, argv[5], &weight))
    return fail(env, "dest", EINVAL);
  uint8_t c = cmd[0] == 'a' ? IPVS_CMD_NEW_DEST : cmd[0] == 'e' ? IPVS_CMD_SET_DEST : IPVS_CMD_DEL_DEST;
  struct req r;
  start(&r, family_id, c, IPVS_GENL_VERSION);
  struct nlattr *s = nest(&r, IPVS_CMD_ATTR_SERVICE);
  if (!service_id(&r, vaddr, vport)) return fail(env, "virtual address", EINVAL);
  end(&r, s);
  struct nlattr *d = nest(&r, IPVS_CMD_ATTR_DEST);
  union nf_inet_addr a;
  memset(&a, 0, sizeof a);
  if (inet_pton(AF_INET, raddr, &a.in) != 1) return fail(env, "real address", EINVAL);
  put(&r, IPVS_DEST_ATTR_ADDR, &a, sizeof a);
  put_u16(&r, IPVS_DEST_ATTR_PORT, htons((uint16_t)rport));
  if (c != IPVS_CMD_DEL_DEST) {
    put_u32(&r, IPVS_DEST_ATTR_FWD_METHOD, IP_VS_CONN_F_MASQ);
    put_u32(&r, IPVS_DEST_ATTR_WEIGHT, weight);
    put_u32(&r, IPVS_DEST_ATTR_U_THRESH, 0);
    put_u32(&r, IPVS_DEST_ATTR_L_THRESH, 0);
    put_u16(&r, IPVS_DEST_ATTR_ADDR_FAMILY, AF_INET);
  }
  end(&r, d);
  int err = roundtrip(&r, NULL, 0);
  return err ? fail(env, "IPVS dest command", err) : NULL;
}

static napi_value flush(napi_env env, napi_callback_info info) {
  (void)info;
  struct req r;
  start(&r, family_id, IPVS_CMD_FLUSH, IPVS_GENL_VERSION);
  int err = roundtrip(&r, NULL, 0);
  return err ? fail(env, "IPVS_CMD_FLUSH", err) : NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
      {"service", NULL, new_service, NULL, NULL, NULL, napi_default, NULL},
      {"dest", NULL, dest, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, flush, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof *props, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
