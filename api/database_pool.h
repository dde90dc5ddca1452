// DatabasePool: read-only connections to the agent's database for the API's request threads.
//
// SQLite wants one connection per thread at a time; opening one per request would cost more
// than most queries. A lease takes an idle connection (or opens one) and gives it back when it
// goes out of scope. The pool keeps at most as many as were ever in use at once. Thread-safe;
// a Lease is used by one thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collectors/result.h"
#include "store/database.h"

namespace portwatch::api {

class DatabasePool {
 public:
  explicit DatabasePool(std::string path) : path_(std::move(path)) {}

  class Lease {
   public:
    Lease(DatabasePool& pool, std::unique_ptr<store::Database> db)
        : pool_(&pool), db_(std::move(db)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    store::Database& operator*() { return *db_; }
    store::Database* operator->() { return db_.get(); }

   private:
    DatabasePool* pool_;
    std::unique_ptr<store::Database> db_;
  };

  Result<Lease> Acquire();
  // A read-write connection of its own, for the operator's actions (acknowledge, silence, ...).
  Result<store::Database> OpenForWriting() const;
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<store::Database>> idle_;
};

}  // namespace portwatch::api
