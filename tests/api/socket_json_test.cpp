#include "api/socket_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "collectors/derive.h"

namespace portwatch::api {
namespace {

using namespace collectors;

// The keys the README documents for every socket; raw and packet sockets add protocol_number.
const std::set<std::string> kDocumentedKeys = {
    "proto",       "family",       "state",         "local_addr", "local_port",   "remote_addr",
    "remote_port", "inode",        "cookie",        "uid",        "netns",        "rx_queue",
    "tx_queue",    "v6only",       "interface",     "pid",        "ppid",         "process",
    "exe",         "exe_deleted",  "cmdline",       "user",       "owner_status", "owners",
    "service",     "service_port", "port_category", "exposure",   "direction",    "remote_class",
};

std::set<std::string> KeysOf(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

Process MakeProcess(int32_t pid, const std::string& name) {
  Process process;
  process.pid = pid;
  process.ppid = 1;
  process.uid = 0;
  process.name = name;
  process.exe = "/usr/sbin/" + name;
  process.cmdline = name + " -D";
  process.user = "root";
  return process;
}

class JsonSnapshot {
 public:
  uint32_t AddProcess(const Process& process) {
    snapshot.processes.push_back(process);
    return static_cast<uint32_t>(snapshot.processes.size() - 1);
  }
  uint32_t Add(Socket socket, const std::vector<uint32_t>& owners) {
    socket.owners_begin = static_cast<uint32_t>(snapshot.owner_indices.size());
    socket.owner_count = static_cast<uint32_t>(owners.size());
    socket.owner_status = owners.empty() ? socket.owner_status : OwnerStatus::kKnown;
    snapshot.owner_indices.insert(snapshot.owner_indices.end(), owners.begin(), owners.end());
    snapshot.sockets.push_back(socket);
    return static_cast<uint32_t>(snapshot.sockets.size() - 1);
  }
  // The object AppendSocketJson writes for one socket, parsed; fails the test on invalid JSON.
  nlohmann::json Object(uint32_t row) const {
    std::string out;
    AppendSocketJson(out, snapshot, snapshot.sockets[row]);
    try {
      return nlohmann::json::parse(out);
    } catch (const nlohmann::json::exception& error) {
      ADD_FAILURE() << "not valid JSON: " << out << ": " << error.what();
      return nlohmann::json::object();
    }
  }
  nlohmann::json Array(const std::vector<uint32_t>& rows) const {
    std::string out;
    AppendSocketJsonArray(out, snapshot, rows);
    try {
      return nlohmann::json::parse(out);
    } catch (const nlohmann::json::exception& error) {
      ADD_FAILURE() << "not valid JSON: " << out << ": " << error.what();
      return nlohmann::json();
    }
  }

  Snapshot snapshot;
};

Socket TcpListener(const char* address, uint16_t port) {
  Socket socket;
  socket.protocol = Protocol::kTcp;
  socket.family =
      std::string_view(address).find(':') == std::string_view::npos ? Family::kIpv4 : Family::kIpv6;
  socket.state = SocketState::kListen;
  socket.local = {*Address::Parse(address), port};
  socket.remote = {*Address::Parse(socket.family == Family::kIpv4 ? "0.0.0.0" : "::"), 0};
  socket.inode = 4242;
  socket.cookie = 77;
  socket.uid = 0;
  socket.netns = 4026531840;
  socket.rx_queue = 0;
  socket.tx_queue = 128;
  return socket;
}

TEST(SocketJson, WritesEveryDocumentedKeyForATcpListener) {
  JsonSnapshot host;
  Process sshd = MakeProcess(812, "sshd");
  sshd.ppid = 1;
  const uint32_t owner = host.AddProcess(sshd);
  const uint32_t row = host.Add(TcpListener("0.0.0.0", 22), {owner});
  DeriveFields(host.snapshot);

  const nlohmann::json object = host.Object(row);
  EXPECT_EQ(KeysOf(object), kDocumentedKeys);
  const nlohmann::json expected = {
      {"proto", "tcp"},
      {"family", "inet"},
      {"state", "LISTEN"},
      {"local_addr", "0.0.0.0"},
      {"local_port", 22},
      {"remote_addr", "0.0.0.0"},
      {"remote_port", 0},
      {"inode", 4242},
      {"cookie", 77},
      {"uid", 0},
      {"netns", 4026531840},
      {"rx_queue", 0},
      {"tx_queue", 128},
      {"v6only", false},
      {"interface", 0},
      {"pid", 812},
      {"ppid", 1},
      {"process", "sshd"},
      {"exe", "/usr/sbin/sshd"},
      {"exe_deleted", false},
      {"cmdline", "sshd -D"},
      {"user", "root"},
      {"owner_status", "known"},
      {"owners", {812}},
      {"service", "ssh"},
      {"service_port", 22},
      {"port_category", "well-known"},
      {"exposure", "all"},
      {"direction", "listen"},
      {"remote_class", "none"},
  };
  EXPECT_EQ(object, expected) << object.dump();
}

TEST(SocketJson, WritesIpv6AddressesAndTheirFlags) {
  JsonSnapshot host;
  Socket socket = TcpListener("::1", 5432);
  socket.v6only = true;
  const uint32_t row = host.Add(socket, {host.AddProcess(MakeProcess(900, "postgres"))});
  DeriveFields(host.snapshot);

  const nlohmann::json object = host.Object(row);
  EXPECT_EQ(object["family"], "inet6");
  EXPECT_EQ(object["local_addr"], "::1");
  EXPECT_EQ(object["remote_addr"], "::");
  EXPECT_EQ(object["v6only"], true);
  EXPECT_EQ(object["exposure"], "loopback");
  EXPECT_EQ(object["port_category"], "registered");
}

TEST(SocketJson, PidIsNullWhenNoProcessOwnsTheSocket) {
  JsonSnapshot host;
  Socket socket = TcpListener("10.0.0.5", 50000);
  socket.state = SocketState::kTimeWait;
  socket.remote = {*Address::Parse("192.0.2.9"), 443};
  socket.inode = 0;
  socket.owner_status = OwnerStatus::kKernel;
  const uint32_t row = host.Add(socket, {});
  DeriveFields(host.snapshot);

  const nlohmann::json object = host.Object(row);
  EXPECT_EQ(KeysOf(object), kDocumentedKeys);
  for (const char* key : {"pid", "ppid", "process", "exe", "cmdline", "user"}) {
    EXPECT_TRUE(object[key].is_null()) << key << ": " << object[key];
  }
  EXPECT_EQ(object["exe_deleted"], false);
  EXPECT_EQ(object["owners"], nlohmann::json::array());
  EXPECT_EQ(object["owner_status"], "kernel");
  EXPECT_EQ(object["state"], "TIME_WAIT");
  EXPECT_EQ(object["direction"], "outbound");
  EXPECT_EQ(object["remote_class"], "public");
  EXPECT_EQ(object["service_port"], 443);
  EXPECT_EQ(object["port_category"], "dynamic");
}

TEST(SocketJson, ListsEveryOwnerOfASharedSocketPrimaryFirst) {
  JsonSnapshot host;
  const uint32_t master = host.AddProcess(MakeProcess(100, "nginx"));
  const uint32_t other = host.AddProcess(MakeProcess(555, "unrelated"));
  Process worker_process = MakeProcess(103, "nginx");
  worker_process.ppid = 100;
  worker_process.cmdline = "nginx: worker process";
  const uint32_t worker = host.AddProcess(worker_process);
  const uint32_t before = host.Add(TcpListener("0.0.0.0", 8081), {other});
  // The worker is the primary owner although its pid and process index are the larger ones.
  const uint32_t row = host.Add(TcpListener("0.0.0.0", 80), {worker, master});
  DeriveFields(host.snapshot);

  const nlohmann::json object = host.Object(row);
  EXPECT_EQ(object["owners"], (nlohmann::json{103, 100}));
  EXPECT_EQ(object["pid"], 103);
  EXPECT_EQ(object["ppid"], 100);
  EXPECT_EQ(object["cmdline"], "nginx: worker process");
  EXPECT_EQ(object["service"], "http");
  EXPECT_EQ(host.Object(before)["owners"], nlohmann::json{555});
}

TEST(SocketJson, PacketSocketsHaveNullAddressesAndPorts) {
  JsonSnapshot host;
  Socket socket;
  socket.protocol = Protocol::kPacket;
  socket.family = Family::kUnspec;
  socket.state = SocketState::kClose;
  socket.protocol_number = 3;  // ETH_P_ALL
  socket.interface = 2;
  socket.inode = 31337;
  const uint32_t row = host.Add(socket, {host.AddProcess(MakeProcess(400, "dhclient"))});
  DeriveFields(host.snapshot);

  const nlohmann::json object = host.Object(row);
  std::set<std::string> expected_keys = kDocumentedKeys;
  expected_keys.insert("protocol_number");
  EXPECT_EQ(KeysOf(object), expected_keys);
  EXPECT_EQ(object["proto"], "packet");
  EXPECT_EQ(object["family"], "unspec");
  EXPECT_EQ(object["state"], "UNCONN");
  for (const char* key : {"local_addr", "local_port", "remote_addr", "remote_port"}) {
    EXPECT_TRUE(object[key].is_null()) << key << ": " << object[key];
  }
  EXPECT_EQ(object["protocol_number"], 3);
  EXPECT_EQ(object["interface"], 2);
  EXPECT_EQ(object["exposure"], "none");
  EXPECT_EQ(object["direction"], "none");
  EXPECT_EQ(object["pid"], 400);
}

TEST(SocketJson, RawSocketsHaveAddressesButNoPorts) {
  JsonSnapshot host;
  Socket socket;
  socket.protocol = Protocol::kRaw;
  socket.family = Family::kIpv4;
  socket.state = SocketState::kClose;
  socket.local = {*Address::Parse("0.0.0.0"), 0};
  socket.remote = {*Address::Parse("0.0.0.0"), 0};
  socket.protocol_number = 1;  // ICMP
  const uint32_t row = host.Add(socket, {host.AddProcess(MakeProcess(500, "ping"))});
  DeriveFields(host.snapshot);

  const nlohmann::json object = host.Object(row);
  EXPECT_TRUE(object.contains("protocol_number"));
  EXPECT_EQ(object["protocol_number"], 1);
  EXPECT_EQ(object["local_addr"], "0.0.0.0");
  EXPECT_EQ(object["remote_addr"], "0.0.0.0");
  EXPECT_TRUE(object["local_port"].is_null());
  EXPECT_TRUE(object["remote_port"].is_null());
}

TEST(SocketJson, EscapesProcessDetailsThatHoldAnyBytes) {
  JsonSnapshot host;
  Process odd = MakeProcess(600, "we\"ird\\name");
  odd.exe = "/tmp/bin\xFF/x";
  odd.exe_deleted = true;
  odd.cmdline = "run --label \"a b\"\n--next\x01";
  odd.user = "1001";
  const uint32_t row = host.Add(TcpListener("127.0.0.1", 60000), {host.AddProcess(odd)});
  DeriveFields(host.snapshot);

  const nlohmann::json object = host.Object(row);
  EXPECT_EQ(object["process"], "we\"ird\\name");
  EXPECT_EQ(object["exe"], "/tmp/bin\xEF\xBF\xBD/x");
  EXPECT_EQ(object["exe_deleted"], true);
  EXPECT_EQ(object["cmdline"], "run --label \"a b\"\n--next\x01");
  EXPECT_EQ(object["user"], "1001");
}

TEST(SocketJsonArray, EmptyArrayIsValidJson) {
  const JsonSnapshot host;
  std::string out;
  AppendSocketJsonArray(out, host.snapshot, {});
  EXPECT_EQ(nlohmann::json::parse(out), nlohmann::json::array()) << out;
}

TEST(SocketJsonArray, WritesTheGivenRowsInOrderOnePerLine) {
  JsonSnapshot host;
  const uint32_t owner = host.AddProcess(MakeProcess(700, "server"));
  const uint32_t first = host.Add(TcpListener("127.0.0.1", 1001), {owner});
  host.Add(TcpListener("127.0.0.1", 1002), {owner});
  const uint32_t third = host.Add(TcpListener("127.0.0.1", 1003), {});
  DeriveFields(host.snapshot);

  std::string out;
  AppendSocketJsonArray(out, host.snapshot, {third, first});
  const nlohmann::json array = nlohmann::json::parse(out);
  ASSERT_TRUE(array.is_array());
  ASSERT_EQ(array.size(), 2u);
  EXPECT_EQ(array[0]["local_port"], 1003);
  EXPECT_TRUE(array[0]["pid"].is_null());
  EXPECT_EQ(array[1]["local_port"], 1001);
  EXPECT_EQ(array[1]["pid"], 700);
  // "[", one line per object, "]": easy to read with line-oriented tools.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  EXPECT_EQ(out.substr(out.size() - 2), "]\n");
}

TEST(SocketJsonArray, StreamedArrayEqualsTheBufferedOne) {
  JsonSnapshot host;
  const uint32_t owner = host.AddProcess(MakeProcess(800, "many"));
  std::vector<uint32_t> rows;
  // Enough sockets to pass the writer's flush threshold several times.
  for (uint32_t i = 0; i < 5000; ++i) {
    rows.push_back(host.Add(TcpListener("127.0.0.1", static_cast<uint16_t>(20000 + i)), {owner}));
  }
  DeriveFields(host.snapshot);

  std::string buffered;
  AppendSocketJsonArray(buffered, host.snapshot, rows);
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(WriteSocketJsonArray(file, host.snapshot, rows));
  std::string streamed(static_cast<size_t>(std::ftell(file)), '\0');
  std::rewind(file);
  ASSERT_EQ(std::fread(streamed.data(), 1, streamed.size(), file), streamed.size());
  std::fclose(file);
  EXPECT_GT(streamed.size(), 512u * 1024u);
  EXPECT_EQ(streamed, buffered);
  EXPECT_EQ(nlohmann::json::parse(streamed).size(), rows.size());
}

}  // namespace
}  // namespace portwatch::api
