// Socket options Node does not expose, for the BGP speaker: TCP_MD5SIG (RFC 2385), IP TTL / IPv6 hop limit
// (eBGP single-hop and multihop), and creating an unconnected TCP socket so MD5 can be set before connect().
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int arg_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

// socket(family: 4 | 6): number
static napi_value new_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fam = 4;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !arg_int(env, argv[0], &fam)) return fail(env, "socket", EINVAL);
  int fd = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(env, "socket", errno);
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

// setMd5(fd: number, peer: string, key: string): void  (empty key removes it)
static napi_value set_md5(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  char addr[INET6_ADDRSTRLEN + 1];
  char key[TCP_MD5SIG_MAXKEYLEN + 2];
  size_t alen = 0, klen = 0;
  if (argc < 3 || !arg_int(env, argv[0], &fd)) return fail(env, "setMd5", EINVAL);
  if (napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &alen) != napi_ok) return fail(env, "setMd5 address", EINVAL);
  if (napi_get_value_string_utf8(env, argv[2], key, sizeof key, &klen) != napi_ok) return fail(env, "setMd5 key", EINVAL);
  if (klen > TCP_MD5SIG_MAXKEYLEN) return fail(env, "setMd5: key longer than 80 bytes", EINVAL);
  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  struct sockaddr_in *sin = (struct sockaddr_in *)&sig.tcpm_addr;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sig.tcpm_addr;
  int domain = 0;
  socklen_t dl = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0) return fail(env, "setMd5 SO_DOMAIN", errno);
  struct in_addr a4;
  if (inet_pton(AF_INET, addr, &a4) == 1) {
    if (domain == AF_INET6) {
      // A dual-stack socket sees IPv4 peers as v4-mapped addresses; the key must use that form.
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr.s6_addr[10] = 0xff;
      sin6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&sin6->sin6_addr.s6_addr[12], &a4, 4);
    } else {
      sin->sin_family = AF_INET;
      sin->sin_addr = a4;
    }
  } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
  } else {
    return fail(env, "setMd5: bad address", EINVAL);
  }
  sig.tcpm_keylen = (uint16_t)klen;
  memcpy(sig.tcpm_key, key, klen);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) < 0) return fail(env, "setsockopt TCP_MD5SIG", errno);
  return NULL;
}

// setTtl(fd: number, ttl: number): void — unicast TTL / hop limit of outgoing packets.
static napi_value set_ttl(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, ttl;
  if (argc < 2 || !arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &ttl) || ttl < 1 || ttl > 255) {
    return fail(env, "setTtl", EINVAL);
  }
  int domain = 0;
  socklen_t dl = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0) return fail(env, "setTtl SO_DOMAIN", errno);
  if (domain == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) < 0) return fail(env, "setsockopt IPV6_UNICAST_HOPS", errno);
    // IPv4 traffic on a dual-stack socket uses IP_TTL; ignore failure on v6-only sockets.
    setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  } else if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0) {
    return fail(env, "setsockopt IP_TTL", errno);
  }
  return NULL;
}

// close(fd): for a socket created here that never reached net.Socket.
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1 && arg_int(env, argv[0], &fd) && fd >= 0) close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"socket", NULL, new_socket, NULL, NULL, NULL, napi_default, NULL},
    {"setMd5", NULL, set_md5, NULL, NULL, NULL, napi_default, NULL},
    {"setTtl", NULL, set_ttl, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
