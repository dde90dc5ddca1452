// OutboxWorker: the thread that empties the outbox — it sends each pending delivery to its
// target, records every attempt, and retries with backoff until the receiver takes it.
//
// On its own connection to the agent's database, so a slow receiver never delays the loop.
// Outcomes, per attempt:
//   2xx                        delivered.
//   429, 503                   retried after the receiver's Retry-After (else backoff).
//   no answer, 408, 502, 504   retried with exponential backoff and jitter, up to retry_max apart.
//   other 5xx                  that message retried with backoff; the target's others go on, so
//                              one message a receiver chokes on does not hold up the rest.
//   3xx, other 4xx             failed at once with the status and the receiver's reason: the
//                              request itself is wrong (a revoked webhook, a moved URL, a bad chat
//                              id), and retrying would only repeat it.
// While a target is down or asks to wait, its other deliveries wait behind the first, in order, so
// an outage costs one request per backoff step, not one per alert. A delivery whose alert was
// silenced or accepted (or which the target no longer takes) while it waited is skipped, not sent.
// A delivery still pending `max_age` after it was queued is marked failed with its last error;
// nothing is dropped unseen. Rows are marked delivered only after the receiver answered, so a crash
// between the two sends that one again on restart (the Idempotency-Key lets a receiver drop it);
// when only the recording fails, the row is never sent again, just recorded later. When the
// database cannot be written, the worker logs it once and tries again every few seconds.
// Targets that forget unrepeated alerts (Alertmanager) also get every active alert again every
// resend_every.
//
// Thread-safe: Wake, Configure and Stop may be called from any thread. Secrets are never logged:
// log lines name the target and its RedactUrl.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/notify/http_sender.h"
#include "agent/notify/message.h"
#include "agent/notify/target.h"
#include "collectors/result.h"
#include "store/database.h"
#include "store/deliveries.h"

namespace portwatch::agent::notify {

struct WorkerSettings {
  std::vector<std::shared_ptr<const Target>> targets;
  MessageContext context;
  std::chrono::milliseconds max_age{std::chrono::hours(24)};
  std::chrono::milliseconds retry_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(5)};
};

class OutboxWorker {
 public:
  // Opens a connection to `database` and starts the thread.
  static Result<std::unique_ptr<OutboxWorker>> Start(const std::string& database,
                                                     WorkerSettings settings);
  ~OutboxWorker();
  OutboxWorker(const OutboxWorker&) = delete;
  OutboxWorker& operator=(const OutboxWorker&) = delete;

  // New deliveries were queued: look now rather than at the next poll.
  void Wake();
  // New targets and limits, from the next delivery on.
  void Configure(WorkerSettings settings);
  // Aborts the send in flight and ends the thread; pending rows stay for the next start.
  void Stop();

  // How many passes over the outbox the thread has made: for tests that check it idles.
  uint64_t passes() const { return passes_.load(); }

 private:
  struct TargetState {
    int64_t blocked_until = 0;  // backing off, or rate limited, until then
    std::vector<int64_t> sent;  // when the last messages went, for the rate limit
    bool failing = false;       // logged as failing; the recovery is logged once too
    int64_t next_resend = 0;
  };
  OutboxWorker(store::Database db, std::string outbox_id, WorkerSettings settings);
  void Run();
  void Pass(const WorkerSettings& settings, bool targets_changed);
  void Expire(const WorkerSettings& settings, int64_t now);
  void Deliver(const WorkerSettings& settings, int64_t now);
  void Attempt(const WorkerSettings& settings, const Target& target, const store::Delivery& row);
  void Resend(const WorkerSettings& settings, int64_t now);
  std::chrono::milliseconds Backoff(const WorkerSettings& settings, int64_t attempts);
  std::chrono::milliseconds Pause(const WorkerSettings& settings);
  // Whether a write to the outbox worked; a failure is logged once, and the pass cut short.
  bool Stored(const Result<void>& result, std::string_view what);

  store::Database db_;
  const std::string outbox_id_;
  HttpSender sender_;
  std::mutex mutex_;
  std::condition_variable wake_;
  WorkerSettings settings_;  // guarded by mutex_
  uint64_t generation_ = 1;  // guarded by mutex_; bumped by Configure
  bool woken_ = false;       // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> passes_{0};
  // The thread's own:
  std::unordered_map<std::string, TargetState> states_;
  std::unordered_set<int64_t> unrecorded_;  // delivered, but the write saying so failed
  uint64_t seen_generation_ = 0;
  bool pass_failed_ = false;    // a store write failed this pass
  bool store_failing_ = false;  // ... and that has been logged
  std::thread thread_;
};

}  // namespace portwatch::agent::notify
