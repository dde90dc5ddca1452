// Retention: keeps the history within an age and a size, a small batch at a time.
//
// PruneBatch does at most one batch of work in one short transaction and says whether more is
// left, so the caller can run it between intervals without ever stalling the writer. Old per-
// interval samples are folded into one-minute samples (the maximum of each count) instead of being
// dropped. Alerts go when they resolved before the age limit; open ones stay however old. Not
// thread-safe: call it on the writer's thread and connection.
#pragma once

#include <chrono>
#include <cstdint>

#include "store/database.h"

namespace portwatch::store {

struct RetentionPolicy {
  std::chrono::milliseconds max_age{std::chrono::hours(24 * 30)};
  uint64_t max_bytes = uint64_t{1} << 30;  // 0: no size limit
  // Per-interval samples older than this become one-minute samples.
  std::chrono::milliseconds full_resolution{std::chrono::hours(24)};
  int batch_rows = 1000;
};

struct PruneStats {
  int64_t sockets_deleted = 0;
  int64_t samples_folded = 0;
  int64_t processes_deleted = 0;
  int64_t alerts_deleted = 0;  // resolved before the age limit
  bool more = false;           // another batch is due
};

Result<PruneStats> PruneBatch(Database& db, const RetentionPolicy& policy, int64_t now_ms);

// The database's size on disk in bytes: the main file and its write-ahead log.
uint64_t DatabaseBytes(const Database& db);

}  // namespace portwatch::store
