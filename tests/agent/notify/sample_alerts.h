// Alerts as the tracker stores them, for the tests of what notifications say: a listener on a
// backdoor port with two reasons, and the evidence of an outbound IPv6 connection.
#pragma once

#include <cstdint>

#include "store/alerts.h"

namespace portwatch::agent::notify::testing {

inline constexpr int64_t kFirstSeen = 1764075901123;  // 2025-11-25T13:05:01.123Z
inline constexpr int64_t kLastSeen = 1764079800000;   // 2025-11-25T14:10:00.000Z

// The evidence of a listener as socket_json writes it.
inline constexpr const char* kListenerEvidence = R"({
  "proto":"tcp","family":"ipv4","state":"listen","local_addr":"0.0.0.0","local_port":31337,
  "remote_addr":"0.0.0.0","remote_port":0,"inode":48213,"cookie":9137,"uid":0,
  "netns":4026531840,"rx_queue":0,"tx_queue":0,"v6only":false,"interface":0,"pid":4242,
  "ppid":1,"process":"nc","exe":"/tmp/nc","exe_deleted":false,"cmdline":"nc -lvp 31337",
  "user":"root","owner_status":"known","owners":[4242],"service":null,"service_port":31337,
  "port_category":"registered","exposure":"all","direction":"listen","remote_class":"unspecified"})";

// An outbound IPv6 connection.
inline constexpr const char* kConnectionEvidence = R"({
  "proto":"tcp","family":"ipv6","state":"established","local_addr":"2001:db8::5",
  "local_port":51234,"remote_addr":"2001:db8::7","remote_port":443,"pid":977,"ppid":1,
  "process":"curl","exe":"/usr/bin/curl","cmdline":"curl https://example.org","user":"alice",
  "service":"https","service_port":443,"port_category":"well-known","exposure":"address",
  "direction":"outbound","remote_class":"public"})";

// nc listening on 0.0.0.0:31337, seen three times, alert 7.
inline store::Alert ListenerAlert() {
  store::Alert alert;
  alert.id = 7;
  alert.fingerprint = "3f2a9c0d5b7e1a44";
  alert.subject = "listener tcp/31337 exposure=all program=/tmp/nc user=root";
  alert.kind = 1;  // listener
  alert.severity = 4;
  alert.title = "nc (pid 4242, user root) listens on 0.0.0.0:31337/tcp";
  alert.reasons =
      R"([{"rule":"backdoor-port","severity":"high","mitre":"T1571","reason":"31337 is a known backdoor port"},)"
      R"({"rule":"unexpected-listener","severity":"medium","mitre":"","reason":"a new listener not in the baseline"}])";
  alert.count = 3;
  alert.first_seen = kFirstSeen;
  alert.last_seen = kLastSeen;
  alert.first_evidence = alert.last_evidence = kListenerEvidence;
  return alert;
}

}  // namespace portwatch::agent::notify::testing
