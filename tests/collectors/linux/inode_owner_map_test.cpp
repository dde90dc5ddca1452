#include "collectors/linux/inode_owner_map.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

namespace portwatch::collectors::linux {
namespace {

std::vector<int32_t> OwnersOf(const InodeOwnerMap& map, uint64_t inode) {
  std::vector<int32_t> pids;
  map.ForEachOwner(inode, [&](int32_t pid) { pids.push_back(pid); });
  return pids;
}

TEST(InodeOwnerMap, KeepsEveryOwnerOfASharedSocketInOrder) {
  InodeOwnerMap map;
  map.Add(100, 1);
  map.Add(100, 812);
  map.Add(200, 900);
  map.Add(100, 813);
  EXPECT_EQ(OwnersOf(map, 100), (std::vector<int32_t>{1, 812, 813}));
  EXPECT_EQ(OwnersOf(map, 200), (std::vector<int32_t>{900}));
  EXPECT_TRUE(OwnersOf(map, 300).empty());
  EXPECT_EQ(map.inode_count(), 2u);
  EXPECT_EQ(map.entry_count(), 4u);
}

TEST(InodeOwnerMap, CountsAProcessOnceForSeveralDescriptorsOnOneSocket) {
  // A shell whose fds 0, 1 and 2 are one socket: one owner ("bash"), not "bash +2".
  InodeOwnerMap map;
  map.Add(100, 42);
  map.Add(100, 42);
  map.Add(100, 42);
  map.Add(100, 43);
  EXPECT_EQ(OwnersOf(map, 100), (std::vector<int32_t>{42, 43}));
  EXPECT_EQ(map.entry_count(), 2u);
}

TEST(InodeOwnerMap, IgnoresInodeZero) {
  InodeOwnerMap map;
  map.Add(0, 5);
  EXPECT_FALSE(map.Contains(0));
  EXPECT_EQ(map.entry_count(), 0u);
}

TEST(InodeOwnerMap, AgreesWithAReferenceMapThroughManyGrowths) {
  InodeOwnerMap map(4);  // start tiny so the table grows many times
  std::unordered_map<uint64_t, std::vector<int32_t>> reference;
  std::mt19937_64 random(42);
  for (int i = 0; i < 200000; ++i) {
    // Sequential-ish inodes like the kernel's, with some shared and some far apart.
    const uint64_t inode = (random() % 4 == 0) ? random() : 1000000 + (random() % 150000);
    if (inode == 0) continue;
    const auto pid = static_cast<int32_t>(random() % 50000 + 1);
    map.Add(inode, pid);
    std::vector<int32_t>& owners = reference[inode];
    if (owners.empty() || owners.back() != pid) owners.push_back(pid);
  }
  EXPECT_EQ(map.inode_count(), reference.size());
  for (const auto& [inode, pids] : reference) {
    ASSERT_EQ(OwnersOf(map, inode), pids) << inode;
  }
  EXPECT_FALSE(map.Contains(999999));
}

}  // namespace
}  // namespace portwatch::collectors::linux
