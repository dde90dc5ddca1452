// InodeOwnerMap: socket inode -> every pid holding it, in one flat open-addressing table.
//
// Built once per snapshot from the /proc/*/fd scan and then only read. ss keeps the same join in a
// 256-bucket chained hash, which is what makes `ss -p` quadratic at scale; here lookups stay O(1)
// at any size and a socket shared by several processes keeps all its owners. Not thread-safe for
// concurrent writers; concurrent readers are fine once building is done.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace portwatch::collectors::linux {

class InodeOwnerMap {
 public:
  explicit InodeOwnerMap(size_t expected_inodes = 1024);

  // Records that pid holds a descriptor on inode. Inode 0 is ignored (no socket has it). A pid is
  // an owner once however many descriptors it holds on the inode, as long as its adds for that
  // inode come one after another (a scan adds one process's descriptors together): a shell with
  // one socket on fds 0, 1 and 2 is one owner, not three.
  void Add(uint64_t inode, int32_t pid);

  // Calls visit(pid) for every pid holding inode, once each, in the order they were added.
  template <typename Visit>
  void ForEachOwner(uint64_t inode, Visit visit) const {
    for (uint32_t entry = Head(inode); entry != kEnd; entry = entries_[entry].next) {
      visit(entries_[entry].pid);
    }
  }
  bool Contains(uint64_t inode) const { return Head(inode) != kEnd; }
  size_t inode_count() const { return used_; }
  size_t entry_count() const { return entries_.size(); }

 private:
  static constexpr uint32_t kEnd = UINT32_MAX;
  struct Slot {
    uint64_t inode = 0;  // 0 marks an empty slot
    uint32_t first = kEnd;
    uint32_t last = kEnd;
  };
  struct Entry {
    int32_t pid;
    uint32_t next;
  };

  uint32_t Head(uint64_t inode) const;
  size_t FindSlot(uint64_t inode) const;  // the slot holding inode, or the empty one it would take
  void Grow();

  std::vector<Slot> slots_;  // size is a power of two, at most half full
  std::vector<Entry> entries_;
  size_t used_ = 0;
};

}  // namespace portwatch::collectors::linux
