#include "store/queries.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/history_writer.h"
#include "tests/store/store_test_support.h"
#include "tests/support/snapshot_builder.h"
#include "tests/support/temp_dir.h"

namespace portwatch::store {
namespace {

using collectors::Cidr;
using collectors::Direction;
using collectors::Exposure;
using portwatch::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace testing;             // NOLINT: the store test helpers
using namespace portwatch::testing;  // NOLINT: the snapshot builder

class QueriesTest : public ::testing::Test {
 protected:
  QueriesTest() : path_(dir_.path() + "/history.db"), db_(OpenOrDie(path_)) {}

  // Writes the snapshots in order with one writer.
  void Record(const std::vector<Snapshot>& snapshots, WriterOptions options = {}) {
    Result<HistoryWriter> writer = HistoryWriter::Create(db_, options);
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    for (const Snapshot& snapshot : snapshots) {
      Result<WriteStats> written = writer->Write(snapshot);
      ASSERT_TRUE(written.ok()) << written.error().message;
    }
  }

  History StateAtOk(int64_t at) {
    Result<History> history = StateAt(db_, at);
    EXPECT_TRUE(history.ok()) << at << ": " << (history ? "" : history.error().message);
    return history.ok() ? std::move(history).value() : History{};
  }

  TempDir dir_;
  std::string path_;
  Database db_;
};

std::set<uint64_t> Cookies(const History& history) {
  std::set<uint64_t> cookies;
  for (const Socket& socket : history.snapshot.sockets) cookies.insert(socket.cookie);
  EXPECT_EQ(cookies.size(), history.snapshot.sockets.size()) << "a socket is listed twice";
  return cookies;
}

std::map<uint64_t, SocketState> States(const History& history) {
  std::map<uint64_t, SocketState> states;
  for (const Socket& socket : history.snapshot.sockets) states[socket.cookie] = socket.state;
  EXPECT_EQ(states.size(), history.snapshot.sockets.size()) << "a socket is listed twice";
  return states;
}

// Index of the socket with this cookie in a history; fails the test when it is missing.
size_t IndexOf(const History& history, uint64_t cookie) {
  for (size_t i = 0; i < history.snapshot.sockets.size(); ++i) {
    if (history.snapshot.sockets[i].cookie == cookie) return i;
  }
  ADD_FAILURE() << "no socket with cookie " << cookie;
  return 0;
}

Cidr Block(const char* text) {
  Result<Cidr> cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << text;
  return cidr.ok() ? *cidr : Cidr{};
}

Socket Out(uint64_t cookie, const char* remote, uint16_t remote_port,
           SocketState state = SocketState::kEstablished) {
  const bool v6 = Address::Parse(remote)->family == Family::kIpv6;
  return Tcp(cookie, v6 ? "2001:db8::1" : "192.0.2.1", static_cast<uint16_t>(40000 + cookie),
             remote, remote_port, state);
}

// --- StateAt ---------------------------------------------------------------------------------

class StateAtTest : public QueriesTest {
 protected:
  void SetUp() override {
    Record({
        SnapshotBuilder(At(0))
            .Add(Listener(1, "0.0.0.0", 22))
            .Add(Out(2, "198.51.100.4", 443))
            .Build(),
        SnapshotBuilder(At(1))
            .Add(Listener(1, "0.0.0.0", 22))
            .Add(Out(2, "198.51.100.4", 443))
            .Add(Out(3, "203.0.113.7", 80, SocketState::kSynSent))
            .Build(),
        SnapshotBuilder(At(2))
            .Add(Listener(1, "0.0.0.0", 22))
            .Add(Out(3, "203.0.113.7", 80, SocketState::kEstablished))
            .Build(),
    });
  }
};

TEST_F(StateAtTest, BeforeTheHistoryStartsIsAnError) {
  Result<History> history = StateAt(db_, At(0) - 1);
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(history.error().message, HasSubstr("before the recorded history"));
  // At(0) is 1'700'000'000'000 ms: the start is named in UTC, as a person reads it.
  EXPECT_THAT(history.error().message, HasSubstr("2023-11-14 22:13:20 UTC"));
}

TEST_F(StateAtTest, AtAndAfterTheFirstInterval) {
  EXPECT_EQ(Cookies(StateAtOk(At(0))), (std::set<uint64_t>{1, 2}));
  EXPECT_EQ(Cookies(StateAtOk(At(0) + 500)), (std::set<uint64_t>{1, 2}));
  EXPECT_EQ(Cookies(StateAtOk(At(1) - 1)), (std::set<uint64_t>{1, 2}));
}

TEST_F(StateAtTest, OpenedSocketIsOpenFromItsOpeningInterval) {
  const History at_open = StateAtOk(At(1));
  EXPECT_EQ(States(at_open), (std::map<uint64_t, SocketState>{{1, SocketState::kListen},
                                                              {2, SocketState::kEstablished},
                                                              {3, SocketState::kSynSent}}));
  const size_t three = IndexOf(at_open, 3);
  EXPECT_EQ(at_open.opened_at[three], At(1));
  EXPECT_EQ(at_open.closed_at[three], std::nullopt);
}

TEST_F(StateAtTest, ClosedAtTheMomentMeansNotOpen) {
  const History before_close = StateAtOk(At(2) - 1);
  EXPECT_EQ(States(before_close), (std::map<uint64_t, SocketState>{{1, SocketState::kListen},
                                                                   {2, SocketState::kEstablished},
                                                                   {3, SocketState::kSynSent}}));
  EXPECT_EQ(before_close.closed_at[IndexOf(before_close, 2)], At(2));

  const History at_close = StateAtOk(At(2));
  EXPECT_EQ(States(at_close), (std::map<uint64_t, SocketState>{{1, SocketState::kListen},
                                                               {3, SocketState::kEstablished}}));
}

TEST_F(StateAtTest, AfterTheLastIntervalShowsTheLastState) {
  EXPECT_EQ(
      States(StateAtOk(At(100))),
      (std::map<uint64_t, SocketState>{{1, SocketState::kListen}, {3, SocketState::kEstablished}}));
}

TEST_F(StateAtTest, IdsAreTheSocketRows) {
  const History history = StateAtOk(At(1));
  ASSERT_EQ(history.ids.size(), history.snapshot.sockets.size());
  ASSERT_EQ(history.opened_at.size(), history.snapshot.sockets.size());
  ASSERT_EQ(history.closed_at.size(), history.snapshot.sockets.size());
  for (size_t i = 0; i < history.ids.size(); ++i) {
    EXPECT_EQ(
        QueryInt(db_, "SELECT cookie FROM sockets WHERE id = " + std::to_string(history.ids[i])),
        static_cast<int64_t>(history.snapshot.sockets[i].cookie));
  }
}

TEST_F(QueriesTest, StateAtOnAnEmptyDatabaseIsAnError) {
  Result<History> history = StateAt(db_, At(0));
  ASSERT_FALSE(history.ok());
  EXPECT_THAT(history.error().message, HasSubstr("no history"));
}

// Many intervals of churn with frequent keyframes: every moment's answer, whether it comes from a
// keyframe alone or a keyframe plus the changes after it, matches what the snapshots said.
TEST_F(QueriesTest, StateAtCombinesKeyframesWithLaterChanges) {
  std::mt19937 random(2026);
  std::vector<Socket> live;
  std::vector<Snapshot> snapshots;
  uint64_t next_cookie = 1;
  const SocketState states[] = {SocketState::kEstablished, SocketState::kFinWait1,
                                SocketState::kCloseWait, SocketState::kTimeWait};
  for (int interval = 0; interval < 24; ++interval) {
    std::vector<Socket> still;
    for (Socket socket : live) {
      const auto roll = random() % 10;
      if (roll < 2) continue;  // closed
      if (roll < 4) socket.state = states[random() % 4];
      still.push_back(socket);
    }
    live = std::move(still);
    const int opened = static_cast<int>(random() % 4);
    for (int i = 0; i < opened; ++i) {
      live.push_back(Out(next_cookie, "198.51.100.4", 443, states[random() % 4]));
      ++next_cookie;
    }
    SnapshotBuilder builder(At(interval));
    for (const Socket& socket : live) builder.Add(socket);
    snapshots.push_back(builder.Build());
  }
  Record(snapshots, {.keyframe_interval = std::chrono::milliseconds(5 * kStep)});
  ASSERT_GE(QueryInt(db_, "SELECT count(*) FROM keyframes"), 4);

  for (int64_t at = At(0); at <= At(25); at += kStep / 4) {
    const size_t index = static_cast<size_t>(std::min<int64_t>((at - kT0) / kStep, 23));
    std::map<uint64_t, SocketState> expected;
    for (const Socket& socket : snapshots[index].sockets) expected[socket.cookie] = socket.state;
    EXPECT_EQ(States(StateAtOk(at)), expected) << "at " << at - kT0 << " ms after the start";
  }
}

// --- ConnectionsWith and PortHistory ---------------------------------------------------------

class ConnectionsTest : public QueriesTest {
 protected:
  void SetUp() override {
    const Snapshot first =
        SnapshotBuilder(At(0))
            .Add(Listener(1, "0.0.0.0", 22))
            .Add(Tcp(2, "192.0.2.1", 22, "203.0.113.50", 51000, SocketState::kEstablished))
            .Add(Out(10, "203.0.113.7", 443))
            .Add(Out(11, "203.0.113.8", 443))
            .Add(Out(12, "10.1.2.3", 5432))
            .Add(Out(13, "11.0.0.1", 80))
            .Add(Out(14, "2001:db8:1:2::5", 443))
            .Add(Out(15, "2001:db8:1:3::5", 443))
            .Add(Tcp(16, "::ffff:192.0.2.1", 40016, "::ffff:203.0.113.9", 8443,
                     SocketState::kEstablished))
            .Add(Out(18, "2a00:1450::1", 443))
            .Build();
    Snapshot second = first;
    second.taken_at += std::chrono::milliseconds(kStep);
    second.sockets.erase(second.sockets.begin() + 2);  // 10 closes
    Snapshot third = second;
    third.taken_at += std::chrono::milliseconds(kStep);
    Record({first, second, third});
  }

  std::set<uint64_t> With(const char* block, TimeRange range = {At(0), At(2)}) {
    Result<History> history = ConnectionsWith(db_, Block(block), range);
    EXPECT_TRUE(history.ok()) << block << ": " << (history ? "" : history.error().message);
    return history.ok() ? Cookies(*history) : std::set<uint64_t>{};
  }

  std::set<uint64_t> OnPort(uint16_t port, TimeRange range = {At(0), At(2)}) {
    Result<History> history = PortHistory(db_, port, range);
    EXPECT_TRUE(history.ok()) << port << ": " << (history ? "" : history.error().message);
    return history.ok() ? Cookies(*history) : std::set<uint64_t>{};
  }
};

TEST_F(ConnectionsTest, SingleHost) {
  EXPECT_EQ(With("203.0.113.7/32"), (std::set<uint64_t>{10}));
  EXPECT_EQ(With("203.0.113.7"), (std::set<uint64_t>{10}));
}

TEST_F(ConnectionsTest, Ipv4Block) { EXPECT_EQ(With("10.0.0.0/8"), (std::set<uint64_t>{12})); }

TEST_F(ConnectionsTest, Ipv6Block) {
  EXPECT_EQ(With("2001:db8:1:2::/64"), (std::set<uint64_t>{14}));
  EXPECT_EQ(With("2001:db8::/32"), (std::set<uint64_t>{14, 15}));
}

TEST_F(ConnectionsTest, Ipv4BlockMatchesV4MappedPeers) {
  EXPECT_EQ(With("203.0.113.0/24"), (std::set<uint64_t>{2, 10, 11, 16}));
  EXPECT_EQ(With("203.0.113.9"), (std::set<uint64_t>{16}));
}

TEST_F(ConnectionsTest, Ipv4BlockDoesNotMatchIpv6PeersWithTheSameLeadingBytes) {
  // 2a00:1450::1 starts with the bytes 42.0.20.80, but it is an IPv6 peer.
  EXPECT_EQ(With("42.0.0.0/8"), (std::set<uint64_t>{}));
  EXPECT_EQ(With("0.0.0.0/0"), (std::set<uint64_t>{2, 10, 11, 12, 13, 16}));
}

TEST_F(ConnectionsTest, Ipv6BlockDoesNotMatchIpv4Peers) {
  EXPECT_EQ(With("::/0"), (std::set<uint64_t>{14, 15, 16, 18}));
}

TEST_F(ConnectionsTest, ListenersAreNotConnections) {
  EXPECT_EQ(With("0.0.0.0/32"), (std::set<uint64_t>{}));
  EXPECT_EQ(With("0.0.0.0/0").count(1), 0u);
}

TEST_F(ConnectionsTest, OnlyLifetimesOverlappingTheRange) {
  // 10 closed at At(1): not in a range that starts after that.
  EXPECT_EQ(With("203.0.113.0/24", {At(1) + 1, At(2)}), (std::set<uint64_t>{2, 11, 16}));
  EXPECT_EQ(With("203.0.113.0/24", {At(0), At(0)}), (std::set<uint64_t>{2, 10, 11, 16}));
  EXPECT_EQ(With("203.0.113.0/24", {At(0) - 5000, At(0) - 1}), (std::set<uint64_t>{}));
}

TEST_F(ConnectionsTest, ReportsLifetimes) {
  Result<History> history = ConnectionsWith(db_, Block("203.0.113.7"), {At(0), At(2)});
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->ids.size(), 1u);
  EXPECT_EQ(history->opened_at[0], At(0));
  EXPECT_EQ(history->closed_at[0], At(1));
  EXPECT_EQ(history->snapshot.sockets[0].remote.address.ToString(), "203.0.113.7");
  EXPECT_EQ(history->snapshot.sockets[0].remote.port, 443);
}

TEST_F(ConnectionsTest, PortHistoryLocalAndRemote) {
  EXPECT_EQ(OnPort(22), (std::set<uint64_t>{1, 2}));
  EXPECT_EQ(OnPort(443), (std::set<uint64_t>{10, 11, 14, 15, 18}));
  EXPECT_EQ(OnPort(5432), (std::set<uint64_t>{12}));
  EXPECT_EQ(OnPort(40012), (std::set<uint64_t>{12}));
  EXPECT_EQ(OnPort(443, {At(1) + 1, At(2)}), (std::set<uint64_t>{11, 14, 15, 18}));
  EXPECT_EQ(OnPort(9), (std::set<uint64_t>{}));
}

// --- SocketLifetime --------------------------------------------------------------------------

TEST_F(QueriesTest, SocketLifetimeListsTheOpeningStateThenEachChange) {
  const Process curl = Proc(500, 42, "curl");
  const auto with = [&](int at, SocketState state) {
    return SnapshotBuilder(At(at)).Add(Out(30, "198.51.100.4", 443, state), curl).Build();
  };
  Record({with(0, SocketState::kEstablished), with(1, SocketState::kEstablished),
          with(2, SocketState::kFinWait1), with(3, SocketState::kTimeWait),
          SnapshotBuilder(At(4)).Build()});
  const int64_t id = QueryInt(db_, "SELECT id FROM sockets WHERE cookie = 30");
  Result<Lifetime> lifetime = SocketLifetime(db_, id);
  ASSERT_TRUE(lifetime.ok()) << lifetime.error().message;
  ASSERT_EQ(lifetime->changes.size(), 3u);
  EXPECT_EQ(lifetime->changes[0].at, At(0));
  EXPECT_EQ(lifetime->changes[0].state, SocketState::kEstablished);
  EXPECT_EQ(lifetime->changes[1].at, At(2));
  EXPECT_EQ(lifetime->changes[1].state, SocketState::kFinWait1);
  EXPECT_EQ(lifetime->changes[2].at, At(3));
  EXPECT_EQ(lifetime->changes[2].state, SocketState::kTimeWait);

  const History& socket = lifetime->socket;
  ASSERT_EQ(socket.ids, (std::vector<int64_t>{id}));
  EXPECT_EQ(socket.opened_at[0], At(0));
  EXPECT_EQ(socket.closed_at[0], At(4));
  EXPECT_EQ(socket.snapshot.sockets[0].state, SocketState::kTimeWait);
  const Process* owner = socket.snapshot.PrimaryOwner(socket.snapshot.sockets[0]);
  ASSERT_NE(owner, nullptr);
  EXPECT_EQ(owner->name, "curl");
  EXPECT_EQ(owner->pid, 500);
  EXPECT_EQ(owner->start_time, 42u);
}

TEST_F(QueriesTest, SocketLifetimeOfAnUnknownIdIsAnError) {
  Record({SnapshotBuilder(At(0)).Add(Listener(1, "0.0.0.0", 22)).Build()});
  Result<Lifetime> lifetime = SocketLifetime(db_, 987654);
  ASSERT_FALSE(lifetime.ok());
  EXPECT_THAT(lifetime.error().message, HasSubstr("987654"));
}

// --- ListenerEventsIn ------------------------------------------------------------------------

TEST_F(QueriesTest, ListenerEventsInTimeOrder) {
  Record({
      SnapshotBuilder(At(0)).Add(Listener(1, "0.0.0.0", 22)).Build(),
      SnapshotBuilder(At(1)).Add(Listener(1, "0.0.0.0", 22)).Add(Listener(2, "::", 80)).Build(),
      SnapshotBuilder(At(2)).Add(Listener(2, "::", 80)).Build(),
      SnapshotBuilder(At(3)).Add(Listener(3, "127.0.0.1", 6379)).Build(),
  });
  const auto row = [&](uint64_t cookie) {
    return QueryInt(db_, "SELECT id FROM sockets WHERE cookie = " + std::to_string(cookie));
  };
  Result<ListenerEvents> all = ListenerEventsIn(db_, {At(0), At(3)});
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::vector<std::tuple<int64_t, bool, int64_t>> events;
  for (const ListenerEvent& event : all->events) {
    events.emplace_back(event.at, event.appeared, event.socket_id);
  }
  // At(3): 2 goes and 3 appears in the same interval; both are listed.
  EXPECT_THAT(
      events,
      ElementsAre(std::make_tuple(At(0), true, row(1)), std::make_tuple(At(1), true, row(2)),
                  std::make_tuple(At(2), false, row(1)), std::make_tuple(At(3), false, row(2)),
                  std::make_tuple(At(3), true, row(3))));
  EXPECT_EQ(all->sockets.ids, (std::vector<int64_t>{row(1), row(2), row(3)}));
  EXPECT_EQ(Cookies(all->sockets), (std::set<uint64_t>{1, 2, 3}));
  EXPECT_EQ(all->sockets.snapshot.sockets[IndexOf(all->sockets, 3)].local.port, 6379);

  Result<ListenerEvents> middle = ListenerEventsIn(db_, {At(1), At(2)});
  ASSERT_TRUE(middle.ok());
  ASSERT_EQ(middle->events.size(), 2u);
  EXPECT_EQ(middle->events[0].at, At(1));
  EXPECT_EQ(middle->events[1].at, At(2));
  EXPECT_EQ(Cookies(middle->sockets), (std::set<uint64_t>{1, 2}));

  Result<ListenerEvents> none = ListenerEventsIn(db_, {At(10), At(20)});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(none->events, IsEmpty());
  EXPECT_THAT(none->sockets.ids, IsEmpty());
}

// --- SamplesIn -------------------------------------------------------------------------------

TEST_F(QueriesTest, SamplesInEveryIntervalAndByStep) {
  const int counts[] = {1, 3, 2, 5, 4, 4};
  std::vector<Snapshot> snapshots;
  for (int interval = 0; interval < 6; ++interval) {
    SnapshotBuilder builder(At(interval));
    builder.Add(Udp(1000, "0.0.0.0", 53));
    for (int i = 1; i < counts[interval]; ++i) {
      builder.Add(Out(static_cast<uint64_t>(interval * 10 + i), "198.51.100.4", 443));
    }
    snapshots.push_back(builder.Build());
  }
  Record(snapshots);

  Result<std::vector<Sample>> every = SamplesIn(db_, {At(0), At(5)}, 0);
  ASSERT_TRUE(every.ok()) << every.error().message;
  ASSERT_EQ(every->size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ((*every)[i].at, At(static_cast<int>(i)));
    EXPECT_EQ((*every)[i].sockets, counts[i]);
    EXPECT_EQ((*every)[i].tcp, counts[i] - 1);
    EXPECT_EQ((*every)[i].udp, 1);
  }

  Result<std::vector<Sample>> stepped = SamplesIn(db_, {At(0), At(5)}, 2 * kStep);
  ASSERT_TRUE(stepped.ok());
  ASSERT_EQ(stepped->size(), 3u);
  EXPECT_EQ((*stepped)[0].at, At(0));
  EXPECT_EQ((*stepped)[0].sockets, 3);
  EXPECT_EQ((*stepped)[1].at, At(2));
  EXPECT_EQ((*stepped)[1].sockets, 5);
  EXPECT_EQ((*stepped)[1].established, 4);
  EXPECT_EQ((*stepped)[2].at, At(4));
  EXPECT_EQ((*stepped)[2].sockets, 4);

  Result<std::vector<Sample>> part = SamplesIn(db_, {At(1), At(3)}, 2 * kStep);
  ASSERT_TRUE(part.ok());
  ASSERT_EQ(part->size(), 2u);
  EXPECT_EQ((*part)[0].sockets, 3);
  EXPECT_EQ((*part)[1].sockets, 5);

  Result<std::vector<Sample>> empty = SamplesIn(db_, {At(10), At(20)}, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(*empty, IsEmpty());
}

TEST_F(QueriesTest, RecordedRange) {
  Result<std::optional<TimeRange>> empty = RecordedRange(db_);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
  Record({SnapshotBuilder(At(0)).Build(), SnapshotBuilder(At(1)).Build(),
          SnapshotBuilder(At(7)).Build()});
  Result<std::optional<TimeRange>> range = RecordedRange(db_);
  ASSERT_TRUE(range.ok());
  ASSERT_TRUE(range->has_value());
  EXPECT_EQ((*range)->from, At(0));
  EXPECT_EQ((*range)->to, At(7));
}

// --- What a History snapshot holds -----------------------------------------------------------

TEST_F(QueriesTest, HistoryKeepsStoredDirectionAndServicePort) {
  const Process sshd = Proc(100, 5000, "sshd");
  const Process app = Proc(600, 7, "app");
  const Snapshot with_listeners =
      SnapshotBuilder(At(0))
          .Add(Listener(1, "0.0.0.0", 22), sshd)
          .Add(Tcp(2, "192.0.2.1", 22, "203.0.113.7", 50000, SocketState::kEstablished), sshd)
          .Add(Listener(3, "127.0.0.1", 50000), app)
          .Add(Tcp(4, "127.0.0.1", 40000, "127.0.0.1", 50000, SocketState::kEstablished), app)
          .Add(Tcp(5, "127.0.0.1", 50000, "127.0.0.1", 40000, SocketState::kEstablished), app)
          .Build();
  ASSERT_EQ(with_listeners.sockets[1].direction, Direction::kInbound);
  ASSERT_EQ(with_listeners.sockets[3].service_port, 50000);
  // The listeners close; the connections they accepted stay. Derived afresh without them, the
  // ssh session would look outbound to port 50000 and the local pair would be about port 40000.
  const Snapshot without =
      SnapshotBuilder(At(1))
          .Add(Tcp(2, "192.0.2.1", 22, "203.0.113.7", 50000, SocketState::kEstablished), sshd)
          .Add(Tcp(4, "127.0.0.1", 40000, "127.0.0.1", 50000, SocketState::kEstablished), app)
          .Add(Tcp(5, "127.0.0.1", 50000, "127.0.0.1", 40000, SocketState::kEstablished), app)
          .Build();
  ASSERT_EQ(without.sockets[0].direction, Direction::kOutbound);
  Record({with_listeners, without});

  const History history = StateAtOk(At(1));
  ASSERT_EQ(Cookies(history), (std::set<uint64_t>{2, 4, 5}));
  const Socket& ssh = history.snapshot.sockets[IndexOf(history, 2)];
  EXPECT_EQ(ssh.direction, Direction::kInbound);
  EXPECT_EQ(ssh.service_port, 22);
  // The rest is derived as usual.
  EXPECT_EQ(ssh.exposure, Exposure::kAddress);
  EXPECT_EQ(ssh.remote_class, collectors::AddressClass::kPublic);
  EXPECT_EQ(ssh.owner_status, collectors::OwnerStatus::kKnown);
  for (const uint64_t cookie : {uint64_t{4}, uint64_t{5}}) {
    const Socket& local = history.snapshot.sockets[IndexOf(history, cookie)];
    EXPECT_EQ(local.direction, Direction::kLocal) << cookie;
    EXPECT_EQ(local.service_port, 50000) << cookie;
    EXPECT_EQ(local.exposure, Exposure::kLoopback) << cookie;
  }
}

TEST_F(QueriesTest, HistoryCarriesOwnersAndNamespaces) {
  Process sshd = Proc(100, 5000, "sshd");
  sshd.exe_deleted = true;
  Socket elsewhere = Out(7, "198.51.100.4", 443);
  elsewhere.netns = 4026532999;
  Record({SnapshotBuilder(At(0))
              .Add(Listener(1, "0.0.0.0", 22), sshd)
              .Add(Tcp(2, "192.0.2.1", 22, "203.0.113.7", 50000, SocketState::kEstablished), sshd)
              .Add(elsewhere)
              .Add(Packet(8))
              .Build()});
  const History history = StateAtOk(At(0));
  ASSERT_EQ(history.snapshot.sockets.size(), 4u);
  EXPECT_EQ(history.snapshot.netns, kHostNetns);
  // Two sockets of one process share one entry in the process table.
  ASSERT_EQ(history.snapshot.processes.size(), 1u);
  const Process& process = history.snapshot.processes[0];
  EXPECT_EQ(process.pid, 100);
  EXPECT_EQ(process.start_time, 5000u);
  EXPECT_EQ(process.name, "sshd");
  EXPECT_EQ(process.exe, "/usr/bin/sshd");
  EXPECT_TRUE(process.exe_deleted);
  EXPECT_EQ(process.cmdline, "sshd --flag");
  EXPECT_EQ(process.user, "alice");
  EXPECT_EQ(process.uid, 1000u);

  const Socket& listener = history.snapshot.sockets[IndexOf(history, 1)];
  EXPECT_EQ(listener.netns, kHostNetns);
  EXPECT_EQ(listener.inode, 100001u);
  EXPECT_EQ(listener.local.ToString(), "*:22");
  EXPECT_EQ(history.snapshot.PrimaryOwner(listener), &history.snapshot.processes[0]);
  EXPECT_EQ(history.snapshot.sockets[IndexOf(history, 7)].netns, 4026532999u);
  EXPECT_EQ(history.snapshot.PrimaryOwner(history.snapshot.sockets[IndexOf(history, 7)]), nullptr);
  const Socket& packet = history.snapshot.sockets[IndexOf(history, 8)];
  EXPECT_EQ(packet.protocol, Protocol::kPacket);
  EXPECT_EQ(packet.family, Family::kUnspec);
  EXPECT_EQ(packet.protocol_number, 3);
  EXPECT_EQ(packet.interface, 2u);
}

}  // namespace
}  // namespace portwatch::store
