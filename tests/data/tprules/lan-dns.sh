#!/bin/sh
# ferry tproxy-rules --lan --iface eth1 --exclude-private --exclude 192.0.2.1 --exclude 2001:db8:ffff::/48 --dns
# Transparent proxy rules for ferry; docs/tproxy.md explains each rule.
# Intercepted: the LAN's (forwarded, in on eth1) TCP and UDP, IPv4 and
# IPv6, to ferry's TPROXY listener on port 7893 ([::]:7893,
# IP_TRANSPARENT). DNS (port 53) is intercepted to any resolver but
# loopback, private ones included.
# Nothing listening on 7893: LAN traffic goes out directly, unproxied
# (nft tproxy fails open; --fail-closed drops it instead).
# Undo with the commands at the end, or:
#   ferry tproxy-rules --remove
set -e
ip -4 route add local 0.0.0.0/0 dev lo table 500
ip -4 rule add pref 500 fwmark 0x1f4 lookup 500
ip -6 route add local ::/0 dev lo table 500
ip -6 rule add pref 500 fwmark 0x1f4 lookup 500
nft -f - <<'FERRY_NFT'
# Everything lives in this table: `nft delete table inet ferry_tproxy`
# removes it and touches nothing else.  `create` fails if it exists.
create table inet ferry_tproxy
table inet ferry_tproxy {
	# Destinations never intercepted (add your own with --exclude).
	set bypass4 {
		type ipv4_addr
		flags interval
		auto-merge
		elements = {
			0.0.0.0/8,
			127.0.0.0/8,
			169.254.0.0/16,
			224.0.0.0/4,
			255.255.255.255,
			10.0.0.0/8,
			172.16.0.0/12,
			192.168.0.0/16,
			192.0.2.1,
		}
	}
	set bypass6 {
		type ipv6_addr
		flags interval
		auto-merge
		elements = {
			::,
			::1,
			fe80::/10,
			ff00::/8,
			fc00::/7,
			2001:db8:ffff::/48,
		}
	}
	# accept = leave the packet alone (ends this table's base chain).
	chain bypass {
		ip daddr @bypass4 accept
		ip6 daddr @bypass6 accept
		fib daddr type { local, broadcast } accept
	}
	# Hand the packet to ferry's listener; the mark routes it to lo.
	chain intercept {
		meta l4proto { tcp, udp } tproxy ip to :7893 meta mark set 0x1f4 accept
		meta l4proto { tcp, udp } tproxy ip6 to :7893 meta mark set 0x1f4 accept
	}
	# Traffic forwarded from the LAN.
	chain lan {
		# Replies to connections made from outside are not ours.
		ct direction reply return
		# DNS to any resolver but loopback, so names do not leak.
		meta l4proto { tcp, udp } th dport 53 ip daddr != 127.0.0.0/8 goto intercept
		meta l4proto { tcp, udp } th dport 53 ip6 daddr != ::1 goto intercept
		jump bypass
		goto intercept
	}
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		# Packets of connections ferry already holds: route them locally.
		meta l4proto tcp socket transparent 1 meta mark set 0x1f4 accept
		iifname { "eth1" } goto lan
	}
}
FERRY_NFT
# To remove by hand:
#   nft delete table inet ferry_tproxy
#   ip -6 rule del pref 500 fwmark 0x1f4 lookup 500
#   ip -6 route del local ::/0 dev lo table 500
#   ip -4 rule del pref 500 fwmark 0x1f4 lookup 500
#   ip -4 route del local 0.0.0.0/0 dev lo table 500
