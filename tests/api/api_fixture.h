// ApiFixture: a real ApiServer on an ephemeral loopback port over a real database in a temporary
// directory, with a client that sends the token — the base of the API's tests.
//
// The test publishes hand-built snapshots to the live state and writes history and alerts through
// a connection of its own, as the agent's loop does, then asks over HTTP.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "api/api_config.h"
#include "api/live_state.h"
#include "api/server.h"
#include "collectors/snapshot.h"
#include "store/database.h"
#include "tests/support/temp_dir.h"

namespace portwatch::api::testing {

inline constexpr const char* kToken =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override;

  // (Re)starts the server with `config` (its port is replaced with 0: any free port).
  void StartServer(ApiConfig config = {});

  void Publish(collectors::Snapshot snapshot);

  httplib::Result Get(const std::string& path, bool token = true);
  httplib::Result Post(const std::string& path, const std::string& body = "{}", bool token = true);
  httplib::Result Delete(const std::string& path, bool token = true);
  // GET that must answer 200 with JSON: the parsed body (null after a test failure).
  nlohmann::json GetJson(const std::string& path);
  // The error message of a response that must have `status`.
  std::string ErrorOf(const httplib::Result& result, int status);

  // The test's own read-write connection to the server's database.
  store::Database& db() { return *db_; }
  const std::string& database() const { return database_; }

  portwatch::testing::TempDir dir_;
  std::string database_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<LiveState> live_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace portwatch::api::testing
