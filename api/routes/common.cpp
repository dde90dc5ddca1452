#include <chrono>
#include <filesystem>

#include "api/routes/routes.h"
#include "store/history_writer.h"

namespace portwatch::api {

std::shared_ptr<const SnapshotView> RequireView(const RouteContext& context) {
  std::shared_ptr<const SnapshotView> view = context.live.view();
  if (!view) throw HttpError{503, "the agent has not taken its first snapshot yet; retry shortly"};
  return view;
}

DatabasePool::Lease RequireDatabase(const RouteContext& context) {
  Result<DatabasePool::Lease> lease = context.pool.Acquire();
  if (!lease) {
    throw HttpError{503, "cannot read the history database: " + lease.error().message};
  }
  return std::move(lease).value();
}

int64_t NowMillis() { return store::ToMillis(std::chrono::system_clock::now()); }

uint64_t StoreSizeBytes(const std::string& database) {
  uint64_t size = 0;
  for (const std::string& file : {database, database + "-wal"}) {
    std::error_code error;
    const uintmax_t bytes = std::filesystem::file_size(file, error);
    if (!error) size += bytes;
  }
  return size;
}

}  // namespace portwatch::api
