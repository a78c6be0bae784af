# bench/lib.sh — what the benchmark scripts share. Source it from the project root.

# free_port — a TCP port below the kernel's ephemeral range (32768+), not in use and not left
# in TIME_WAIT by an earlier run: wrk's many connections would otherwise take the ports
# picked for the servers.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
