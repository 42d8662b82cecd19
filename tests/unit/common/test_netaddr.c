/* test_netaddr.c - the one loopback rule (netaddr.h): 127/8, ::1 and
 * IPv4-mapped 127/8 are loopback, in bytes, as host text and in listen
 * addresses; names other than localhost, wildcards and neighbours of the
 * range are not.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "netaddr.h"

static bool host(const char *s)
{
	return netaddr_host_is_loopback(s, strlen(s));
}

Test(netaddr, hosts_inside_and_outside_the_rule)
{
	const char *yes[] = {"127.0.0.1",        "127.255.255.254", "127.1.2.3", "::1",
	                     "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1", "localhost", "LocalHost"};
	const char *no[] = {"128.0.0.1",
	                    "126.255.255.255",
	                    "10.0.0.1",
	                    "::2",
	                    "::",
	                    "0.0.0.0",
	                    "::ffff:10.0.0.1",
	                    "127.example.com",
	                    "localhost.evil",
	                    "",
	                    "127.0.0.1 ",
	                    "1.127.0.0"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		cr_assert(host(yes[i]), "%s should be loopback", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		cr_assert_not(host(no[i]), "%s should not be loopback", no[i]);
}

Test(netaddr, listen_addresses_judge_their_host)
{
	cr_assert(netaddr_listen_is_loopback("127.0.0.1:8081"));
	cr_assert(netaddr_listen_is_loopback("[::1]:8443"));
	cr_assert(netaddr_listen_is_loopback("localhost:9090"));
	cr_assert_not(netaddr_listen_is_loopback(":8081"), "every interface");
	cr_assert_not(netaddr_listen_is_loopback("0.0.0.0:8081"));
	cr_assert_not(netaddr_listen_is_loopback("[::]:8081"));
	cr_assert_not(netaddr_listen_is_loopback("127.example.com:80"),
	              "a name that starts like the range is not resolved, so not loopback");
	cr_assert_not(netaddr_listen_is_loopback("[::1:8443"));
}

Test(netaddr, sixteen_byte_addresses)
{
	uint8_t ip[16] = {0};
	ip[15] = 1;
	cr_assert(netaddr_ip_is_loopback(ip), "::1");
	memset(ip, 0, 16);
	ip[10] = ip[11] = 0xff;
	ip[12] = 127;
	ip[15] = 9;
	cr_assert(netaddr_ip_is_loopback(ip), "::ffff:127.0.0.9");
	ip[12] = 10;
	cr_assert_not(netaddr_ip_is_loopback(ip));
	memset(ip, 0, 16);
	ip[12] = 127;
	cr_assert_not(netaddr_ip_is_loopback(ip), "::127.0.0.0 (IPv4-compatible) is not mapped");
}
