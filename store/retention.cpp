#include "store/retention.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>

namespace portwatch::store {

namespace {

constexpr int64_t kMinute = 60 * 1000;

Result<int64_t> QueryInt(Database& db, std::string_view sql, int64_t parameter) {
  Result<Statement> query = db.Prepare(sql);
  if (!query) return query.error();
  query->Bind(1, parameter);
  Result<bool> row = query->Step();
  if (!row) return row.error();
  return *row && !query->IsNull(0) ? query->Int(0) : 0;
}

// Runs a statement with parameters ?1, ?2, ... and returns how many rows it changed.
Result<int64_t> RunCounting(Database& db, std::string_view sql,
                            std::initializer_list<int64_t> parameters) {
  Result<Statement> statement = db.Prepare(sql);
  if (!statement) return statement.error();
  int index = 1;
  for (const int64_t parameter : parameters) statement->Bind(index++, parameter);
  if (Result<void> run = statement->Run(); !run) return run.error();
  return int64_t{sqlite3_changes(db.handle())};
}

}  // namespace

uint64_t DatabaseBytes(const Database& db) {
  uint64_t bytes = 0;
  for (const std::string& file : {db.path(), db.path() + "-wal"}) {
    std::error_code missing;
    const uintmax_t size = std::filesystem::file_size(file, missing);
    if (!missing) bytes += size;
  }
  return bytes;
}

Result<PruneStats> PruneBatch(Database& db, const RetentionPolicy& policy, int64_t now_ms) {
  PruneStats stats;
  Result<Transaction> transaction = Transaction::Begin(db);
  if (!transaction) return transaction.error();
  const int64_t batch = policy.batch_rows;

  // 1. Sockets closed before the age limit, or the oldest closed ones while over the size limit.
  //    Row ids are handed out in time order, so the oldest are the lowest ids, and a socket closed
  //    before the cutoff has an id at most the first keyframe after the cutoff says. The newest
  //    row always stays, so SQLite never hands out an id again.
  int64_t cutoff = now_ms - policy.max_age.count();
  const bool over_size = policy.max_bytes > 0 && DatabaseBytes(db) > policy.max_bytes;
  if (over_size) {
    Result<int64_t> oldest = QueryInt(db,
                                      "SELECT max(closed_at) + 1 FROM (SELECT closed_at FROM "
                                      "sockets WHERE closed_at IS NOT NULL ORDER BY id LIMIT ?1)",
                                      batch);
    if (!oldest) return oldest.error();
    if (*oldest > cutoff) cutoff = *oldest;
  }
  Result<int64_t> bound = QueryInt(
      db, "SELECT last_socket_id FROM keyframes WHERE at >= ?1 ORDER BY at LIMIT 1", cutoff);
  if (!bound) return bound.error();
  Result<int64_t> deleted = RunCounting(
      db,
      "DELETE FROM sockets WHERE id IN (SELECT id FROM sockets WHERE id <= ?3 AND closed_at < ?1 "
      "AND id < (SELECT max(id) FROM sockets) ORDER BY id LIMIT ?2)",
      {cutoff, batch, *bound > 0 ? *bound : INT64_MAX});
  if (!deleted) return deleted.error();
  stats.sockets_deleted = *deleted;

  // 2. Keyframes and samples past the age limit, keeping the last keyframe before it, which
  //    later point-in-time queries start from. A cut for size moves the keyframes' limit only
  //    up to the oldest socket left: the cutoff above may be as recent as the moment the oldest
  //    socket (a listener open for weeks) closed.
  int64_t keyframe_cutoff = now_ms - policy.max_age.count();
  if (over_size) {
    Result<int64_t> oldest_left =
        QueryInt(db, "SELECT opened_at FROM sockets ORDER BY id LIMIT ?1", 1);
    if (!oldest_left) return oldest_left.error();
    keyframe_cutoff = std::max(keyframe_cutoff, *oldest_left);
  }
  if (Result<int64_t> keyframes = RunCounting(
          db, "DELETE FROM keyframes WHERE at < (SELECT max(at) FROM keyframes WHERE at <= ?1)",
          {keyframe_cutoff});
      !keyframes) {
    return keyframes.error();
  }
  if (Result<int64_t> samples =
          RunCounting(db, "DELETE FROM samples WHERE at < ?1", {now_ms - policy.max_age.count()});
      !samples) {
    return samples.error();
  }

  // 3. Fold one hour of old per-interval samples into one-minute samples.
  const int64_t fold_before = now_ms - policy.full_resolution.count();
  Result<int64_t> first_raw =
      QueryInt(db, "SELECT min(at) FROM samples WHERE resolution = 0 AND at < ?1", fold_before);
  if (!first_raw) return first_raw.error();
  if (*first_raw > 0) {
    const int64_t fold_end = std::min(fold_before, (*first_raw / kMinute) * kMinute + 60 * kMinute);
    if (Result<int64_t> folded = RunCounting(
            db,
            "INSERT OR REPLACE INTO samples SELECT 60000, (at / 60000) * 60000, max(sockets), "
            "max(tcp), max(udp), max(raw), max(packet), max(listeners), max(established), "
            "max(time_wait), max(remote_hosts) FROM samples WHERE resolution IN (0, 60000) AND "
            "at >= ?1 - (?1 % 60000) AND at < ?2 GROUP BY (at / 60000)",
            {*first_raw, fold_end});
        !folded) {
      return folded.error();
    }
    Result<int64_t> removed =
        RunCounting(db, "DELETE FROM samples WHERE resolution = 0 AND at >= ?1 AND at < ?2",
                    {*first_raw, fold_end});
    if (!removed) return removed.error();
    stats.samples_folded = *removed;
  }

  // 4. Alerts resolved before the age limit, with their events.
  Result<int64_t> alerts = RunCounting(
      db,
      "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE status = 3 AND resolved_at < "
      "?1 LIMIT ?2)",
      {now_ms - policy.max_age.count(), batch});
  if (!alerts) return alerts.error();
  stats.alerts_deleted = *alerts;

  // 5. Processes no socket refers to any more.
  Result<int64_t> processes = RunCounting(
      db,
      "DELETE FROM processes WHERE id IN (SELECT p.id FROM processes p WHERE p.first_seen < ?1 "
      "AND NOT EXISTS (SELECT 1 FROM sockets s WHERE s.process_id = p.id) LIMIT ?2)",
      {cutoff, batch});
  if (!processes) return processes.error();
  stats.processes_deleted = *processes;

  if (Result<void> committed = transaction->Commit(); !committed) return committed.error();
  // Give freed pages back to the file system a little at a time.
  if (stats.sockets_deleted > 0 || stats.samples_folded > 0) {
    (void)db.Execute("PRAGMA incremental_vacuum(256)");
  }
  stats.more = stats.sockets_deleted == batch || stats.processes_deleted == batch ||
               stats.alerts_deleted == batch || (stats.samples_folded > 0) ||
               (over_size && stats.sockets_deleted > 0);
  return stats;
}

}  // namespace portwatch::store
