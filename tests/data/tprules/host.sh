#!/bin/sh
# ferry tproxy-rules --host
# Transparent proxy rules for ferry; docs/tproxy.md explains each rule.
# Intercepted: this host's TCP and UDP, IPv4 and IPv6, to ferry's TPROXY
# listener on port 7893 ([::]:7893, IP_TRANSPARENT).
# Nothing listening on 7893: this host's connections fail (they are
# routed to lo); they never go out unproxied.
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
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		# Packets of connections ferry already holds: route them locally.
		meta l4proto tcp socket transparent 1 meta mark set 0x1f4 accept
		# This host's traffic, marked by the output chain, back from lo.
		iif "lo" meta mark 0x1f4 goto intercept
	}
	# This host's own traffic: mark it so policy routing sends it to lo.
	chain output {
		type route hook output priority mangle; policy accept;
		# ferry's own sockets (SO_MARK 0x1f3) go out directly.
		meta mark 0x1f3 return
		# Replies (SYN-ACKs, UDP answers) must not be intercepted again.
		ct direction reply return
		jump bypass
		meta l4proto { tcp, udp } meta mark set 0x1f4
	}
}
FERRY_NFT
# To remove by hand:
#   nft delete table inet ferry_tproxy
#   ip -6 rule del pref 500 fwmark 0x1f4 lookup 500
#   ip -6 route del local ::/0 dev lo table 500
#   ip -4 rule del pref 500 fwmark 0x1f4 lookup 500
#   ip -4 route del local 0.0.0.0/0 dev lo table 500
