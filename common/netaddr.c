/* netaddr.c - the loopback rule (netaddr.h). */
#include "netaddr.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

bool netaddr_ip_is_loopback(const uint8_t ip[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t one[16] = {[15] = 1};
	return (memcmp(ip, mapped, 12) == 0 && ip[12] == 127) || memcmp(ip, one, 16) == 0;
}

bool netaddr_host_is_loopback(const char *host, size_t n)
{
	char buf[64];
	if (n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, host, n);
	buf[n] = 0;
	if (strcasecmp(buf, "localhost") == 0)
		return true;
	uint8_t ip[16];
	if (inet_pton(AF_INET, buf, ip + 12) == 1) {
		memset(ip, 0, 10);
		ip[10] = ip[11] = 0xff;
		return netaddr_ip_is_loopback(ip);
	}
	return inet_pton(AF_INET6, buf, ip) == 1 && netaddr_ip_is_loopback(ip);
}

bool netaddr_listen_is_loopback(const char *hostport)
{
	const char *colon = strrchr(hostport, ':');
	size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);
	if (n >= 2 && hostport[0] == '[' && hostport[n - 1] == ']')
		return netaddr_host_is_loopback(hostport + 1, n - 2);
	return netaddr_host_is_loopback(hostport, n);
}
