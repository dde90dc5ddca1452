// Helpers for the store tests: hand-built snapshots and small SQL probes.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collectors/derive.h"
#include "collectors/snapshot.h"
#include "store/database.h"
#include "tests/support/temp_dir.h"

namespace portwatch::store::testing {

using collectors::Address;
using collectors::Family;
using collectors::Process;
using collectors::Protocol;
using collectors::Snapshot;
using collectors::Socket;
using collectors::SocketState;

// Unix milliseconds the tests record at; a multiple of every step the tests bucket by.
constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kStep = 1000;
constexpr uint64_t kHostNetns = 4026531840;

inline int64_t At(int interval) { return kT0 + interval * kStep; }

inline Socket Tcp(uint64_t cookie, const char* local, uint16_t local_port, const char* remote,
                  uint16_t remote_port, SocketState state) {
  Socket socket;
  socket.protocol = Protocol::kTcp;
  socket.local = {*Address::Parse(local), local_port};
  socket.remote = {*Address::Parse(remote), remote_port};
  socket.family = socket.local.address.family;
  socket.state = state;
  socket.cookie = cookie;
  socket.inode = cookie == 0 ? 0 : cookie + 100000;
  socket.netns = kHostNetns;
  socket.uid = 1000;
  return socket;
}

inline Socket Listener(uint64_t cookie, const char* local, uint16_t port) {
  const char* any = Address::Parse(local)->family == Family::kIpv6 ? "::" : "0.0.0.0";
  return Tcp(cookie, local, port, any, 0, SocketState::kListen);
}

inline Socket Udp(uint64_t cookie, const char* local, uint16_t port) {
  const char* any = Address::Parse(local)->family == Family::kIpv6 ? "::" : "0.0.0.0";
  Socket socket = Tcp(cookie, local, port, any, 0, SocketState::kClose);
  socket.protocol = Protocol::kUdp;
  return socket;
}

inline Socket Packet(uint64_t cookie) {
  Socket socket;
  socket.protocol = Protocol::kPacket;
  socket.family = Family::kUnspec;
  socket.state = SocketState::kClose;
  socket.cookie = cookie;
  socket.inode = cookie + 100000;
  socket.netns = kHostNetns;
  socket.protocol_number = 3;
  socket.interface = 2;
  return socket;
}

inline Socket Raw(uint64_t cookie) {
  Socket socket = Tcp(cookie, "0.0.0.0", 0, "0.0.0.0", 0, SocketState::kClose);
  socket.protocol = Protocol::kRaw;
  socket.protocol_number = 1;
  return socket;
}

inline Process Proc(int32_t pid, uint64_t start_time, std::string name) {
  Process process;
  process.pid = pid;
  process.ppid = 1;
  process.start_time = start_time;
  process.uid = 1000;
  process.name = name;
  process.exe = "/usr/bin/" + name;
  process.cmdline = name + " --flag";
  process.user = "alice";
  return process;
}

// Builds a snapshot taken at a chosen moment; Build() applies DeriveFields as a collector would.
class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(int64_t at_ms) {
    snapshot_.taken_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(at_ms));
    snapshot_.netns = kHostNetns;
  }

  SnapshotBuilder& Add(Socket socket, const std::optional<Process>& owner = std::nullopt) {
    socket.owners_begin = static_cast<uint32_t>(snapshot_.owner_indices.size());
    socket.owner_count = 0;
    socket.owner_status = collectors::OwnerStatus::kKernel;
    if (owner) {
      uint32_t index = 0;
      while (index < snapshot_.processes.size() &&
             !(snapshot_.processes[index].pid == owner->pid &&
               snapshot_.processes[index].start_time == owner->start_time)) {
        ++index;
      }
      if (index == snapshot_.processes.size()) snapshot_.processes.push_back(*owner);
      snapshot_.owner_indices.push_back(index);
      socket.owner_count = 1;
      socket.owner_status = collectors::OwnerStatus::kKnown;
    }
    snapshot_.sockets.push_back(socket);
    return *this;
  }

  Snapshot Build() const {
    Snapshot snapshot = snapshot_;
    collectors::DeriveFields(snapshot);
    return snapshot;
  }

 private:
  Snapshot snapshot_;
};

// The single integer a query returns (the first column of its first row); fails the test on error.
inline int64_t QueryInt(Database& db, const std::string& sql) {
  Result<Statement> statement = db.Prepare(sql);
  EXPECT_TRUE(statement.ok()) << sql << ": " << (statement ? "" : statement.error().message);
  if (!statement) return -1;
  Result<bool> row = statement->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  if (!row || !*row) return -1;
  return statement->Int(0);
}

// Every row of a query, `columns` integers each (NULL reads as -1).
inline std::vector<std::vector<int64_t>> QueryRows(Database& db, const std::string& sql,
                                                   int columns) {
  std::vector<std::vector<int64_t>> rows;
  Result<Statement> statement = db.Prepare(sql);
  EXPECT_TRUE(statement.ok()) << sql << ": " << (statement ? "" : statement.error().message);
  if (!statement) return rows;
  for (;;) {
    Result<bool> row = statement->Step();
    EXPECT_TRUE(row.ok()) << sql << ": " << (row ? "" : row.error().message);
    if (!row || !*row) break;
    std::vector<int64_t> values;
    for (int column = 0; column < columns; ++column) {
      values.push_back(statement->IsNull(column) ? -1 : statement->Int(column));
    }
    rows.push_back(std::move(values));
  }
  return rows;
}

inline Database OpenOrDie(const std::string& path,
                          Database::Mode mode = Database::Mode::kReadWrite) {
  Result<Database> db = Database::Open(path, mode);
  if (!db) ADD_FAILURE() << "cannot open " << path << ": " << db.error().message;
  return std::move(db).value();
}

}  // namespace portwatch::store::testing
