#!/usr/bin/env bash
# `npm run bench:idle [seconds]` while `npm start` idles: CPU used by node (API+worker), postgres and temporal over N seconds (default 60), in % of one core. Counts every process of those names on the machine.
N=${1:-60}
snap() { for p in /proc/[0-9]*; do pid=${p#/proc/}; comm=$(cat $p/comm 2>/dev/null) || continue; read -r -a f < $p/stat 2>/dev/null || continue; echo "$pid $comm $((f[13]+f[14]))"; done; }
snap > /tmp/cpu0; sleep $N; snap > /tmp/cpu1
HZ=$(getconf CLK_TCK)
join <(sort /tmp/cpu0) <(sort /tmp/cpu1) | awk -v hz=$HZ -v n=$N '{d=$5-$3; g=$2; if (g ~ /^postgres/) g="postgres"; else if (g ~ /^temporal/) g="temporal"; else if (g ~ /node|tsx/) g="node"; else next; t[g]+=d} END {for (g in t) printf "%-9s %5.2f %% of a core\n", g, 100*t[g]/hz/n; s=0; for (g in t) s+=t[g]; printf "%-9s %5.2f %% of a core\n", "all", 100*s/hz/n}'
