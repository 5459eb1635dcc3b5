#!/usr/bin/env python3
"""Prints bench/run.sh's table from its RESULT lines: usage table.py results.txt [machine.txt]."""
import sys

r = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 4 and parts[0] == "RESULT":
        r[(parts[1], parts[2])] = float(parts[3])


def g(system, key):
    return r.get((system, key))


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if unit == "MiB":
        return f"{v / 1024:.1f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


rows = [
    ("A send, durable (msg/s)", "A.send_msgs_per_s", ""),
    ("A drain, FETCH/ACK (msg/s)", "A.drain_msgs_per_s", ""),
    ("A exactly once (1 = yes)", "A.exactly_once", ""),
    ("A storage writes per message (bytes)", "A.disk_bytes_per_msg", ""),
    ("A peak RSS (MiB)", "A.peak_rss_kib", "MiB"),
    ("B send->recipient p50 (ms)", "B.recipient_p50_ms", ""),
    ("B send->recipient p99 (ms)", "B.recipient_p99_ms", ""),
    ("B send->recipient p99.9 (ms)", "B.recipient_p999_ms", ""),
    ("B send->ack p50 (ms)", "B.ack_p50_ms", ""),
    ("B send->ack p99 (ms)", "B.ack_p99_ms", ""),
    ("B send->ack p99.9 (ms)", "B.ack_p999_ms", ""),
    ("B achieved rate (msg/s)", "B.rate_msgs_per_s", ""),
    ("D acknowledged before kill -9", "D.acknowledged", ""),
    ("D lost of those", "D.lost", ""),
    ("E RSS, no clients (MiB)", "E.rss_no_clients_kib", "MiB"),
    ("E RSS, idle clients (MiB)", "E.rss_idle_clients_kib", "MiB"),
]
peers = ["mosquitto", "redis"]


def runs(system, key):
    """The figure from the system's main run and from its extra A rounds (SYSTEM@2, ...)."""
    found = [v for (sys_, k), v in r.items() if k == key and (sys_ == system or sys_.startswith(system + "@"))]
    return found


def median(values):
    if not values:
        return None
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


a_runs = len(runs("liaison", "A.send_msgs_per_s"))
for key, what in [("A.send_msgs_per_s", "A send"), ("A.drain_msgs_per_s", "A drain")]:
    for system in ["liaison", "liaison-log"] + peers:
        r[(system + "~median", key)] = median(runs(system, key))
head = ["workload", "liaison"] + peers + ["liaison/" + p for p in peers]
table = []
for label, key, unit in rows:
    lv = g("liaison", key)
    table.append([label, fmt(lv, unit)] + [fmt(g(p, key), unit) for p in peers] +
                 [ratio(lv, g(p, key)) for p in peers])
    if key in ("A.send_msgs_per_s", "A.drain_msgs_per_s") and a_runs > 1:
        lv = g("liaison~median", key)
        counts = "/".join(str(len(runs(system, key))) for system in ["liaison"] + peers)
        table.append([f"{label.split(' (')[0]}, median of each one's runs ({counts}) (msg/s)", fmt(lv)] +
                     [fmt(g(p + "~median", key)) for p in peers] + [ratio(lv, g(p + "~median", key)) for p in peers])
widths = [max(len(str(row[i])) for row in table + [head]) for i in range(len(head))]


def line(cells):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"


print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for row in table:
    print(line(row))

print()
print("liaison only:")
extra = [
    ("A send with window 64 (= relay SNDHWM) (msg/s)", g("liaison-w64", "A.send_msgs_per_s")),
    ("A send as SEND_MANY of 25, 100 messages in flight (msg/s)", g("liaison", "A.send_many_msgs_per_s")),
    ("A SEND_MANY backlog drained exactly once (1 = yes)", g("liaison", "A.send_many_exactly_once")),
    ("A send, relay's syncs taken out (diagnostic) (msg/s)", g("liaison-nosync", "A.send_msgs_per_s")),
    ("A send with the write-ahead log on, median of its runs (msg/s)", g("liaison-log~median", "A.send_msgs_per_s")),
    ("A send with the write-ahead log on, its runs (msg/s)",
     " / ".join(f"{v:,.0f}" for v in runs("liaison-log", "A.send_msgs_per_s")) or None),
    ("A relay's writes per commit while sending (its counters)", g("liaison", "A.writes_per_commit")),
    ("A relay CPU per message sent, all threads (us)", g("liaison", "A.relay_cpu_us_per_msg")),
    ("A sender (liaison-bench) CPU per message sent (us)", g("liaison", "A.sender_cpu_us_per_msg")),
    ("A requests resent for a dropped reply, window 100", g("liaison", "A.resent")),
    ("A requests resent, window 64", g("liaison-w64", "A.resent")),
    ("B requests resent for a dropped reply", g("liaison", "B.resent")),
    ("A relay RssAnon after 1/10 of the backlog (MiB)", (g("liaison", "A.rss_anon_first_tenth_kib") or 0) / 1024),
    ("A relay RssAnon with the whole backlog (MiB)", (g("liaison", "A.rss_anon_last_kib") or 0) / 1024),
    ("A relay peak RssAnon (MiB)", (g("liaison", "A.peak_rss_anon_kib") or 0) / 1024),
    ("C SEND_BROADCAST 1,000 copies, round trip p50 (ms)", g("liaison", "C.broadcast_rtt_p50_ms")),
    ("C SEND_BROADCAST 1,000 copies, round trip max (ms)", g("liaison", "C.broadcast_rtt_max_ms")),
    ("C relay: receipt to durable, p50 (ms)", g("liaison", "C.relay_queued_p50_ms")),
    ("C relay: receipt to durable, max (ms)", g("liaison", "C.relay_queued_max_ms")),
    ("C relay, 100 alerts into one store (0-100,000 dedup records): p50 (ms)", g("liaison-c101", "C.relay_queued_p50_ms")),
    ("C relay, 100 alerts into one store (0-100,000 dedup records): max (ms)", g("liaison-c101", "C.relay_queued_max_ms")),
    ("C send until all 1,000 online recipients have it, p50 (ms)", g("liaison", "C.all_recipients_have_it_p50_ms")),
    ("C send until all 1,000 online recipients have it, max (ms)", g("liaison", "C.all_recipients_have_it_max_ms")),
    ("E relay RssAnon with idle clients (MiB)", (g("liaison", "E.rss_anon_idle_clients_kib") or 0) / 1024),
    ("client: seal one 1 KiB v2 envelope (us)", g("liaison", "client.seal_us_per_msg")),
]
for label, v in extra:
    print(f"  {label:<58} {fmt(v)}")

print()
print("probes:")
for key, label in [
    ("commits_per_s.batch1", "LMDB durable commits/s, 1 value per commit"),
    ("commits_per_s.batch22", "LMDB durable commits/s, 22 values per commit"),
    ("values_per_s.batch22", "LMDB durable values/s, 22 per commit"),
    ("values_per_s.batch32", "LMDB durable values/s, 32 per commit"),
    ("commits_per_s.batch48", "LMDB durable commits/s, 48 values per commit"),
    ("values_per_s.batch48", "LMDB durable values/s, 48 per commit"),
    ("disk_bytes_per_value.batch22", "LMDB storage writes per value, 22 per commit (bytes)"),
    ("commits_per_s.batch64", "LMDB durable commits/s, 64 values per commit"),
    ("values_per_s.batch64", "LMDB durable values/s, 64 per commit"),
    ("commits_per_s.batch100", "LMDB durable commits/s, 100 values per commit"),
    ("values_per_s.batch100", "LMDB durable values/s, 100 per commit"),
    ("disk_bytes_per_value.batch100", "LMDB storage writes per value, 100 per commit (bytes)"),
    ("values_per_s.batch512", "LMDB durable values/s, 512 per commit"),
]:
    print(f"  {label:<58} {fmt(g('lmdb', key))}")
_batch = g("liaison", "A.writes_per_commit")
if _batch:
    _n = int(_batch + 0.5)
    print(f"  {f'LMDB durable values/s, {_n} per commit (the relay in A)':<58} {fmt(g('lmdb', f'values_per_s.batch{_n}'))}")
for key, label in [
    ("records_per_s.append.batch1", "log, 1 KiB records/s, 1 per fdatasync, growing file"),
    ("records_per_s.append.batch40", "log, 1 KiB records/s, 40 per fdatasync, growing file"),
    ("records_per_s.append.batch100", "log, 1 KiB records/s, 100 per fdatasync, growing file"),
    ("records_per_s.preallocated.batch40", "log, 1 KiB records/s, 40 per fdatasync, preallocated"),
    ("records_per_s.preallocated.batch100", "log, 1 KiB records/s, 100 per fdatasync, preallocated"),
    ("records_per_s.lmdb-nosync.batch40", "log + LMDB NOSYNC commit, 40 per fdatasync"),
    ("records_per_s.lmdb-nosync.batch100", "log + LMDB NOSYNC commit, 100 per fdatasync"),
]:
    print(f"  {label:<58} {fmt(g('log', key))}")
print(f"  {'CURVE one-way 1 KiB msgs/s (PUSH/PULL, loopback)':<58} {fmt(g('curve', 'oneway_msgs_per_s'))}")
print(f"  {'NULL mechanism one-way 1 KiB msgs/s':<58} {fmt(g('curve', 'oneway_null_msgs_per_s'))}")
print(f"  {'CURVE request/reply, 1 KiB, 100 in flight, 1 connection':<58} {fmt(g('curve', 'request_reply_msgs_per_s'))}")

print()
print("targets (issue 7):")
a, red = g("liaison", "A.send_msgs_per_s"), g("redis", "A.send_msgs_per_s")
lm = g("lmdb", "values_per_s.batch100")
lm48 = g("lmdb", "values_per_s.batch48")
relay_batch = g("liaison", "A.writes_per_commit")
relay_batch_n = int(relay_batch + 0.5) if relay_batch else None
lm_relay = g("lmdb", f"values_per_s.batch{relay_batch_n}") if relay_batch_n else None
checks = [
    ("A send >= 1.2x Redis appendfsync always", a is not None and red and a / red >= 1.2, ratio(a, red)),
    ("A send >= 60% of LMDB probe (100/commit, the whole window)", a is not None and lm and a / lm >= 0.6, ratio(a, lm)),
    ("A send >= 60% of LMDB probe (48/commit)", a is not None and lm48 and a / lm48 >= 0.6, ratio(a, lm48)),
    (f"A send >= 60% of LMDB probe at the relay's batch ({relay_batch_n}/commit)",
     a is not None and lm_relay and a / lm_relay >= 0.6, ratio(a, lm_relay)),
    ("A drain >= Redis", (g("liaison", "A.drain_msgs_per_s") or 0) >= (g("redis", "A.drain_msgs_per_s") or 1e18),
     ratio(g("liaison", "A.drain_msgs_per_s"), g("redis", "A.drain_msgs_per_s"))),
    ("B p99 send->recipient < 2 ms", (g("liaison", "B.recipient_p99_ms") or 1e9) < 2, fmt(g("liaison", "B.recipient_p99_ms"))),
    # The measure: from the relay receiving the alert (its request off the socket) until
    # it is durably queued for all; the median of the runs, as for the round trip, with the
    # slowest beside it. The round trip adds the transfer.
    ("C 1,000 copies durably queued < 5 ms of receipt (relay; p50, max)",
     (g("liaison", "C.relay_queued_p50_ms") or 1e9) < 5,
     f"{fmt(g('liaison', 'C.relay_queued_p50_ms'))}, {fmt(g('liaison', 'C.relay_queued_max_ms'))}"),
    ("C 1,000 copies, round trip < 5 ms (upper bound incl. transfer)", (g("liaison", "C.broadcast_rtt_p50_ms") or 1e9) < 5,
     fmt(g("liaison", "C.broadcast_rtt_p50_ms"))),
    ("D 0 lost", g("liaison", "D.lost") == 0, fmt(g("liaison", "D.lost"))),
    ("E RSS < 64 MiB with idle clients", (g("liaison", "E.rss_idle_clients_kib") or 1e12) < 64 * 1024,
     fmt(g("liaison", "E.rss_idle_clients_kib"), "MiB")),
]
for label, ok, v in checks:
    print(f"  {'met' if ok else 'NOT met':<8} {label:<66} {v}")
if a_runs > 1:
    for system in ["liaison"] + peers:
        print(f"  {'(runs)':<8} {f'A send, each run, {system} (msg/s)':<66} "
              + " / ".join(fmt(v) for v in runs(system, "A.send_msgs_per_s")))
    a_med, red_med = g("liaison~median", "A.send_msgs_per_s"), g("redis~median", "A.send_msgs_per_s")
    print(f"  {'met' if a_med and red_med and a_med / red_med >= 1.2 else 'NOT met':<8} "
          f"{'A send >= 1.2x Redis, medians of the runs':<66} {ratio(a_med, red_med)}")
# Not a target of the issue as written (its A sends one request per message); shown because the
# client library sends its outbox this way.
many = g("liaison", "A.send_many_msgs_per_s")
print(f"  {'(info)':<8} {'A send as SEND_MANY of 25 (as the client library flushes) / Redis':<66} {ratio(many, red)}")
if len(sys.argv) > 2:
    print()
    print(open(sys.argv[2]).read().rstrip())
