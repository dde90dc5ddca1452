#include "api/database_pool.h"

namespace portwatch::api {

DatabasePool::Lease::~Lease() {
  if (pool_ == nullptr || db_ == nullptr) return;
  std::lock_guard lock(pool_->mutex_);
  pool_->idle_.push_back(std::move(db_));
}

Result<DatabasePool::Lease> DatabasePool::Acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<store::Database> db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(db));
    }
  }
  Result<store::Database> opened = store::Database::Open(path_, store::Database::Mode::kReadOnly);
  if (!opened) return opened.error();
  return Lease(*this, std::make_unique<store::Database>(std::move(opened).value()));
}

Result<store::Database> DatabasePool::OpenForWriting() const {
  return store::Database::Open(path_, store::Database::Mode::kReadWrite);
}

}  // namespace portwatch::api
