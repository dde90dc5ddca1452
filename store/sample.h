// Sample: aggregate socket counts for one interval, the data behind the history charts.
#pragma once

#include <cstdint>

#include "collectors/snapshot.h"

namespace portwatch::store {

struct Sample {
  int64_t at = 0;  // Unix milliseconds
  int64_t sockets = 0;
  int64_t tcp = 0;
  int64_t udp = 0;
  int64_t raw = 0;
  int64_t packet = 0;
  int64_t listeners = 0;
  int64_t established = 0;
  int64_t time_wait = 0;
  int64_t remote_hosts = 0;  // distinct remote addresses of connected sockets, loopback excluded
};

// Counts a snapshot. Pure.
Sample CountSample(const collectors::Snapshot& snapshot, int64_t at);

}  // namespace portwatch::store
