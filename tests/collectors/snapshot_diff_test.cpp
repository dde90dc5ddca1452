#include "collectors/snapshot_diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/support/snapshot_builder.h"

namespace portwatch::collectors {
namespace {

using portwatch::testing::Tcp;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

Snapshot Of(std::vector<Socket> sockets) {
  Snapshot snapshot;
  snapshot.sockets = std::move(sockets);
  return snapshot;
}

// Every previous index is kept or closed exactly once, every current index kept or opened once.
void ExpectPartition(const SnapshotDiff& diff, const Snapshot& previous, const Snapshot& current) {
  std::multiset<uint32_t> before(diff.closed.begin(), diff.closed.end());
  std::multiset<uint32_t> after(diff.opened.begin(), diff.opened.end());
  for (const auto& [b, a] : diff.kept) {
    before.insert(b);
    after.insert(a);
  }
  std::multiset<uint32_t> all_before;
  std::multiset<uint32_t> all_after;
  for (uint32_t i = 0; i < previous.sockets.size(); ++i) all_before.insert(i);
  for (uint32_t i = 0; i < current.sockets.size(); ++i) all_after.insert(i);
  EXPECT_EQ(before, all_before);
  EXPECT_EQ(after, all_after);
  for (const auto& change : diff.changed) {
    EXPECT_NE(std::find(diff.kept.begin(), diff.kept.end(), change), diff.kept.end());
  }
}

TEST(DiffSnapshots, EmptySnapshotsHaveAnEmptyDiff) {
  const SnapshotDiff diff = DiffSnapshots(Snapshot{}, Snapshot{});
  EXPECT_TRUE(diff.empty());
  EXPECT_THAT(diff.kept, IsEmpty());
}

TEST(DiffSnapshots, ReportsOpenedClosedChangedAndKeptByCookie) {
  const Snapshot previous = Of({
      Tcp(11, "0.0.0.0", 22, "0.0.0.0", 0, SocketState::kListen),
      Tcp(12, "192.0.2.1", 22, "203.0.113.7", 50000, SocketState::kSynRecv),
      Tcp(13, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kEstablished),
  });
  // Order shuffled: matching is by cookie, not by position.
  const Snapshot current = Of({
      Tcp(14, "192.0.2.1", 40001, "198.51.100.4", 443, SocketState::kSynSent),
      Tcp(12, "192.0.2.1", 22, "203.0.113.7", 50000, SocketState::kEstablished),
      Tcp(11, "0.0.0.0", 22, "0.0.0.0", 0, SocketState::kListen),
  });
  const SnapshotDiff diff = DiffSnapshots(previous, current);
  EXPECT_THAT(diff.opened, ElementsAre(0u));
  EXPECT_THAT(diff.closed, ElementsAre(2u));
  EXPECT_THAT(diff.changed, ElementsAre(Pair(1u, 1u)));
  EXPECT_THAT(diff.kept, UnorderedElementsAre(Pair(0u, 2u), Pair(1u, 1u)));
  EXPECT_FALSE(diff.empty());
  ExpectPartition(diff, previous, current);
}

TEST(DiffSnapshots, IdenticalSnapshotsKeepEverythingAndAreEmpty) {
  const Snapshot snapshot = Of({
      Tcp(1, "0.0.0.0", 22, "0.0.0.0", 0, SocketState::kListen),
      Tcp(2, "192.0.2.1", 22, "203.0.113.7", 50000, SocketState::kEstablished),
  });
  const SnapshotDiff diff = DiffSnapshots(snapshot, snapshot);
  EXPECT_TRUE(diff.empty());
  EXPECT_THAT(diff.kept, ElementsAre(Pair(0u, 0u), Pair(1u, 1u)));
}

TEST(DiffSnapshots, SocketKeepingItsCookieIntoTimeWaitIsAChange) {
  const Snapshot previous =
      Of({Tcp(77, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kEstablished, 9001)});
  // In TIME_WAIT the kernel owns the socket: no inode, but the same cookie.
  const Snapshot current =
      Of({Tcp(77, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kTimeWait, 0)});
  const SnapshotDiff diff = DiffSnapshots(previous, current);
  EXPECT_THAT(diff.opened, IsEmpty());
  EXPECT_THAT(diff.closed, IsEmpty());
  EXPECT_THAT(diff.changed, ElementsAre(Pair(0u, 0u)));
  EXPECT_THAT(diff.kept, ElementsAre(Pair(0u, 0u)));
}

TEST(DiffSnapshots, SameTupleWithANewCookieIsCloseAndOpen) {
  // A port reused by a new connection: same addresses, new socket.
  const Snapshot previous =
      Of({Tcp(5, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kEstablished)});
  const Snapshot current =
      Of({Tcp(6, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kEstablished)});
  const SnapshotDiff diff = DiffSnapshots(previous, current);
  EXPECT_THAT(diff.opened, ElementsAre(0u));
  EXPECT_THAT(diff.closed, ElementsAre(0u));
  EXPECT_THAT(diff.kept, IsEmpty());
}

TEST(DiffSnapshots, CookieLessSocketsMatchOnTupleAndInode) {
  const Snapshot previous = Of({
      Tcp(0, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kEstablished, 500),
      Tcp(0, "192.0.2.1", 40001, "198.51.100.4", 443, SocketState::kEstablished, 501),
      Tcp(0, "0.0.0.0", 80, "0.0.0.0", 0, SocketState::kListen, 502),
  });
  const Snapshot current = Of({
      // Same tuple and inode, new state: the same socket, changed.
      Tcp(0, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kCloseWait, 500),
      // Same tuple, another inode: a different socket.
      Tcp(0, "192.0.2.1", 40001, "198.51.100.4", 443, SocketState::kEstablished, 601),
      // Same inode, another remote port: a different socket.
      Tcp(0, "0.0.0.0", 80, "0.0.0.0", 1, SocketState::kListen, 502),
  });
  const SnapshotDiff diff = DiffSnapshots(previous, current);
  EXPECT_THAT(diff.kept, ElementsAre(Pair(0u, 0u)));
  EXPECT_THAT(diff.changed, ElementsAre(Pair(0u, 0u)));
  EXPECT_THAT(diff.opened, ElementsAre(1u, 2u));
  EXPECT_THAT(diff.closed, ElementsAre(1u, 2u));
  ExpectPartition(diff, previous, current);
}

TEST(DiffSnapshots, CookieLessTupleDiffersByProtocolAndFamily) {
  // All-zero addresses: only the protocol or the family tells these apart.
  const Socket tcp = Tcp(0, "0.0.0.0", 53, "0.0.0.0", 0, SocketState::kClose, 0);
  Socket udp = tcp;
  udp.protocol = Protocol::kUdp;
  const Socket v6 = Tcp(0, "::", 53, "::", 0, SocketState::kClose, 0);
  const Snapshot previous = Of({tcp});
  const Snapshot current = Of({udp, v6});
  const SnapshotDiff diff = DiffSnapshots(previous, current);
  EXPECT_THAT(diff.kept, IsEmpty());
  EXPECT_THAT(diff.opened, ElementsAre(0u, 1u));
  EXPECT_THAT(diff.closed, ElementsAre(0u));
}

TEST(DiffSnapshots, CookieNeverEqualsATupleHash) {
  const Socket cookie_less = Tcp(0, "192.0.2.1", 1, "192.0.2.2", 2, SocketState::kEstablished, 3);
  const uint64_t tuple_identity = SocketIdentity(cookie_less);
  // A cookie with the same bit pattern as the tuple hash still names a different socket.
  Socket with_cookie = cookie_less;
  with_cookie.cookie = tuple_identity;
  EXPECT_NE(SocketIdentity(with_cookie), tuple_identity);
  with_cookie.cookie = tuple_identity & ~(uint64_t{1} << 63);
  EXPECT_NE(SocketIdentity(with_cookie), tuple_identity);
}

TEST(DiffSnapshots, CookieIdentityIgnoresEverythingElse) {
  Socket a = Tcp(42, "192.0.2.1", 1, "192.0.2.2", 2, SocketState::kEstablished, 3);
  Socket b = Tcp(42, "10.0.0.1", 9, "10.0.0.2", 8, SocketState::kTimeWait, 0);
  EXPECT_EQ(SocketIdentity(a), SocketIdentity(b));
}

TEST(DiffSnapshots, DuplicatesInBothSnapshotsAreKeptNotReopened) {
  // The /proc fallback can list two indistinguishable entries; a sock_diag dump can report one
  // socket twice. An unchanged snapshot must still diff as empty, or the writer would close and
  // reopen a row every interval.
  const Socket dup = Tcp(0, "0.0.0.0", 5353, "0.0.0.0", 0, SocketState::kClose, 0);
  const Snapshot snapshot = Of({dup, dup});
  const SnapshotDiff diff = DiffSnapshots(snapshot, snapshot);
  ExpectPartition(diff, snapshot, snapshot);
  EXPECT_TRUE(diff.empty()) << "opened " << diff.opened.size() << ", closed " << diff.closed.size();
  EXPECT_EQ(diff.kept.size(), 2u);
}

TEST(DiffSnapshots, DuplicateCookieThatGoesAwayIsClosedOnce) {
  const Socket dup = Tcp(9, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kEstablished);
  const Snapshot previous = Of({dup, dup});
  const Snapshot current = Of({dup});
  const SnapshotDiff diff = DiffSnapshots(previous, current);
  ExpectPartition(diff, previous, current);
  EXPECT_EQ(diff.kept.size(), 1u);
  EXPECT_EQ(diff.closed.size(), 1u);
  EXPECT_THAT(diff.opened, IsEmpty());
  EXPECT_THAT(diff.changed, IsEmpty());
}

TEST(DiffSnapshots, DuplicateAppearingIsOpenedOnce) {
  const Socket dup = Tcp(9, "192.0.2.1", 40000, "198.51.100.4", 443, SocketState::kEstablished);
  const Snapshot previous = Of({dup});
  const Snapshot current = Of({dup, dup});
  const SnapshotDiff diff = DiffSnapshots(previous, current);
  ExpectPartition(diff, previous, current);
  EXPECT_THAT(diff.kept, ElementsAre(Pair(0u, 0u)));
  EXPECT_THAT(diff.opened, ElementsAre(1u));
  EXPECT_THAT(diff.closed, IsEmpty());
}

}  // namespace
}  // namespace portwatch::collectors
