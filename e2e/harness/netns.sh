#!/usr/bin/env bash
# One place that knows how a network namespace is wired to the root namespace:
# a veth pair whose host end has no address and answers ARP by proxy, a /32
# route to the namespace's address, and inside, a default route through a
# link-local gateway. Used for the services namespace and for every pod.
# Every harness address is inside 10.244.0.0/14 (services 10.244.255.1, nodes
# 10.244.254.k, pods 10.245.0.0/16 split into a /20 per node; kubelet nodes
# 10.244.254.(100+k), their pods 10.246.k.0/24), but for Service addresses
# (10.96.0.0/16), which kube-proxy rewrites to one of those. The block must not
# hold anything the machine itself uses (its resolver is 10.255.255.53). Namespaces get a route to that block
# only, never a default route, so nothing in them can send traffic off the machine.
#   netns.sh create <netns> <host-veth> <address> <root-source-address>
#   netns.sh delete <netns>                 (kills what still runs inside)
#   netns.sh link <host-veth> down          (cut a namespace off: its link and route go)
#   netns.sh link <host-veth> up <address> <root-source-address>   (heal it)
#   netns.sh drop <netns> <address>:<port> on|off   (inside the namespace, drop or
#                                            pass TCP to one service only: a partition
#                                            from Kafka that leaves the kubelet's probes alone)
#   netns.sh contain                        (root namespace: harness addresses without a
#                                            namespace are unreachable, never routed out)
source "$(dirname "$0")/lib.sh"
gateway=169.254.1.1
harness_block=10.244.0.0/14
service_block=10.96.0.0/16

case "${1:-}" in
  create)
    ns="$2" veth="$3" addr="$4" src="$5"
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$veth" 2>/dev/null || true
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/32" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add "$gateway" dev eth0 scope link
    ip -n "$ns" route add "$harness_block" via "$gateway" dev eth0
    echo 1 >"/proc/sys/net/ipv4/conf/$veth/proxy_arp"
    # Proxy ARP answers after a random delay of up to 0.8 s by default; a pod's
    # first connection should not pay it.
    echo 0 >"/proc/sys/net/ipv4/neigh/$veth/proxy_delay"
    ip link set "$veth" up
    ip route replace "$addr/32" dev "$veth" src "$src"
    ;;
  delete)
    # Processes still inside would keep the namespace (and its veth) alive.
    ns="$2"
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    ;;
  link)
    veth="$2" state="$3"
    case "$state" in
      down) ip link set "$veth" down ;;
      # The kernel drops a route whose device goes down; healing restores it.
      up) ip link set "$veth" up && ip route replace "$4/32" dev "$veth" src "$5" ;;
      *) echo "link state must be up or down, got '$state'" >&2; exit 2 ;;
    esac
    ;;
  drop)
    ns="$2" target="$3" state="$4"
    [[ "$target" =~ ^([0-9.]+):([0-9]{1,5})$ ]] || { echo "drop target must be <address>:<port>, got '$target'" >&2; exit 2; }
    rule=(OUTPUT -d "${BASH_REMATCH[1]}/32" -p tcp --dport "${BASH_REMATCH[2]}" -j DROP)
    case "$state" in
      on) ip netns exec "$ns" iptables -C "${rule[@]}" 2>/dev/null || ip netns exec "$ns" iptables -I "${rule[@]}" ;;
      off) while ip netns exec "$ns" iptables -C "${rule[@]}" 2>/dev/null; do ip netns exec "$ns" iptables -D "${rule[@]}"; done ;;
      *) echo "drop state must be on or off, got '$state'" >&2; exit 2 ;;
    esac
    ;;
  contain)
    # The unreachable route would cut the machine off from its own resolver.
    if grep -Eq '^nameserver[[:space:]]+10\.24[4-7]\.' /etc/resolv.conf 2>/dev/null; then
      echo "the resolver in /etc/resolv.conf is inside $harness_block; the harness would cut it off" >&2
      exit 1
    fi
    ip route replace unreachable "$harness_block"
    # Service addresses are rewritten by kube-proxy before routing; one it does
    # not (yet) know must end here, not on the machine's default route.
    ip route replace unreachable "$service_block"
    ;;
  release)
    ip route del unreachable "$harness_block" 2>/dev/null || true
    ip route del unreachable "$service_block" 2>/dev/null || true
    ;;
  *)
    echo "usage: netns.sh create <netns> <host-veth> <address> <root-source-address> | delete <netns> | link <host-veth> down | link <host-veth> up <address> <root-source-address> | contain | release" >&2
    exit 2
    ;;
esac
