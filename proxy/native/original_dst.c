/*
 * original_dst: the one socket option Node cannot read.
 *
 * getOriginalDst(fd) returns [address, port, family] for a connection that iptables REDIRECTed
 * (the destination before NAT), or a negative errno when the kernel has no NAT record for it.
 * The option numbers come from <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>;
 * they are spelled out here so the addon builds without kernel headers.
 *
 * releasePages(start, end) tells the kernel this process no longer needs the pages of a clean,
 * read-only file mapping (madvise MADV_DONTNEED): they leave its resident set, stay in the page
 * cache, and come back on the next touch. Returns 0 or a negative errno. The caller picks the
 * range (proxy/native/startup-pages.ts); only a mapping never written may be given, since
 * MADV_DONTNEED drops a private page's changes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>

#define WEFT_SO_ORIGINAL_DST 80
#define WEFT_IP6T_SO_ORIGINAL_DST 80
#define WEFT_SOL_IP 0
#define WEFT_SOL_IPV6 41

static int is_v4_mapped(const struct sockaddr_in6 *a) {
  return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr);
}

/* IPv4 conntrack entries answer SOL_IP even on a dual-stack socket; native IPv6 needs SOL_IPV6. */
static int query(int fd, struct sockaddr_storage *out) {
  struct sockaddr_storage local;
  socklen_t len = sizeof(local);
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return -errno;
  int v6 = local.ss_family == AF_INET6 && !is_v4_mapped((struct sockaddr_in6 *)&local);
  len = sizeof(*out);
  memset(out, 0, sizeof(*out));
  int rc = v6 ? getsockopt(fd, WEFT_SOL_IPV6, WEFT_IP6T_SO_ORIGINAL_DST, out, &len)
              : getsockopt(fd, WEFT_SOL_IP, WEFT_SO_ORIGINAL_DST, out, &len);
  return rc == 0 ? 0 : -errno;
}

static napi_value number(napi_env env, int32_t n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

static napi_value triple(napi_env env, const char *addr, int port, int family) {
  napi_value arr, s;
  napi_create_array_with_length(env, 3, &arr);
  napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &s);
  napi_set_element(env, arr, 0, s);
  napi_set_element(env, arr, 1, number(env, port));
  napi_set_element(env, arr, 2, number(env, family));
  return arr;
}

static napi_value get_original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    return number(env, -EBADF);
  }
  struct sockaddr_storage dst;
  int rc = query(fd, &dst);
  if (rc != 0) return number(env, rc);
  char text[INET6_ADDRSTRLEN];
  if (dst.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&dst;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    return triple(env, text, ntohs(a->sin_port), 4);
  }
  if (dst.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&dst;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    return triple(env, text, ntohs(a->sin6_port), 6);
  }
  return number(env, -EAFNOSUPPORT);
}

static napi_value release_pages(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double start = 0, end = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_double(env, argv[0], &start) != napi_ok ||
      napi_get_value_double(env, argv[1], &end) != napi_ok) {
    return number(env, -EINVAL);
  }
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t a = (uint64_t)start, b = (uint64_t)end;
  if (start < 0 || end <= start || (double)a != start || (double)b != end || a % page != 0 ||
      b % page != 0) {
    return number(env, -EINVAL);
  }
  if (madvise((void *)(uintptr_t)a, (size_t)(b - a), MADV_DONTNEED) != 0) return number(env, -errno);
  return number(env, 0);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "getOriginalDst", NAPI_AUTO_LENGTH, get_original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "getOriginalDst", fn);
  napi_create_function(env, "releasePages", NAPI_AUTO_LENGTH, release_pages, NULL, &fn);
  napi_set_named_property(env, exports, "releasePages", fn);
  return exports;
}
